"""A small, safe Markdown subset for labeling instructions: everything is escaped first, then a few
patterns become tags, so raw HTML can never get through and links are http(s) or mailto only.

Supported: paragraphs, `#`–`###` headings, `-`/`*` and `1.` lists, **bold**, *italic*, `code`,
[text](https://…) links.
"""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_LINK = re.compile(r"\[([^\]\n]+)\]\(((?:https?://|mailto:)[^\s)]+)\)")
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])[*_](?=\S)(.+?)(?<=\S)[*_](?![\w*])")
_HEADING = re.compile(r"^(#{1,3})\s+(.+)$")
_BULLET = re.compile(r"^[-*]\s+(.+)$")
_NUMBERED = re.compile(r"^\d+[.)]\s+(.+)$")


def _inline(escaped: str) -> str:
    """Inline markup on already-escaped text; code spans are protected from the other patterns."""
    codes: list[str] = []

    def keep_code(match):
        codes.append(f"<code>{match.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    text = _CODE.sub(keep_code, escaped)
    text = _LINK.sub(r'<a href="\2" rel="noopener noreferrer nofollow">\1</a>', text)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    text = _ITALIC.sub(r"<em>\1</em>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], text)


def render_markdown_subset(text: str) -> SafeString:
    out: list[str] = []
    paragraph: list[str] = []
    list_tag = ""

    def flush_paragraph():
        if paragraph:
            out.append("<p>" + "<br>".join(_inline(line) for line in paragraph) + "</p>")
            paragraph.clear()

    def close_list():
        nonlocal list_tag
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = ""

    for raw in (text or "").replace("\r\n", "\n").split("\n"):
        line = escape(raw.strip())
        heading, bullet, numbered = _HEADING.match(line), _BULLET.match(line), _NUMBERED.match(line)
        if not line:
            flush_paragraph()
            close_list()
        elif heading:
            flush_paragraph()
            close_list()
            level = len(heading.group(1)) + 2  # h3–h5: instructions sit under the page's own headings
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item := bullet or numbered:
            flush_paragraph()
            wanted = "ul" if bullet else "ol"
            if list_tag != wanted:
                close_list()
                out.append(f"<{wanted}>")
                list_tag = wanted
            out.append(f"<li>{_inline(item.group(1))}</li>")
        else:
            close_list()
            paragraph.append(line)
    flush_paragraph()
    close_list()
    return mark_safe("\n".join(out))  # noqa: S308 — built only from escaped text and our own tags
