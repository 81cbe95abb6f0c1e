"""A tiny, safe Markdown subset for project instructions: paragraphs, lists, **bold**, *italic*, http(s) links.

Everything is escaped first; only the patterns below turn back into markup, so no HTML written
by a manager ever reaches the page.
"""

import re

from django.utils.html import escape
from django.utils.safestring import mark_safe

_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s()]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\*\w])\*(?=\S)(.+?)(?<=\S)\*(?![\*\w])")
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
_NUMBER = re.compile(r"^\s*\d+[.)]\s+(.*)$")


def _inline(text: str) -> str:
    text = escape(text)
    text = _LINK.sub(r'<a href="\2" rel="noopener noreferrer" target="_blank">\1</a>', text)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    return _ITALIC.sub(r"<em>\1</em>", text)


def render_instructions(source: str) -> str:
    html, paragraph, items, kind = [], [], [], None

    def flush():
        nonlocal kind
        if paragraph:
            html.append("<p>" + "<br>".join(_inline(line) for line in paragraph) + "</p>")
            paragraph.clear()
        if items:
            html.append(f"<{kind}>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + f"</{kind}>")
            items.clear()
            kind = None

    for line in (source or "").replace("\r\n", "\n").split("\n"):
        bullet, number = _BULLET.match(line), _NUMBER.match(line)
        if not line.strip():
            flush()
        elif bullet or number:
            wanted = "ul" if bullet else "ol"
            if paragraph or (kind and kind != wanted):
                flush()
            kind = wanted
            items.append((bullet or number).group(1))
        else:
            if items:
                flush()
            paragraph.append(line.strip())
    flush()
    return mark_safe("\n".join(html))
