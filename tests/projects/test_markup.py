"""Project instructions: a small Markdown subset, with everything else shown as text.

One renderer serves the wizard's preview and the labeler's instructions page, so both show the same."""

from projects.definition.markup import render_markdown_subset


def test_paragraphs_headings_lists_emphasis_code_and_links():
    html = render_markdown_subset(
        "## Rules\nFirst **bold** and *soft*.\nSame paragraph with `code`.\n\n1. one\n2. two\n\n"
        "- a [link](https://x.example/p?a=1&b=2)"
    )
    assert html == (
        "<h4>Rules</h4>\n"
        "<p>First <strong>bold</strong> and <em>soft</em>.<br>Same paragraph with <code>code</code>.</p>\n"
        "<ol>\n<li>one</li>\n<li>two</li>\n</ol>\n"
        '<ul>\n<li>a <a href="https://x.example/p?a=1&amp;b=2" rel="noopener noreferrer nofollow">link</a></li>\n</ul>'
    )


def test_html_and_unsafe_links_stay_text():
    html = render_markdown_subset(
        '<img src=x onerror=alert(1)> [x](javascript:alert(1)) [y](https://a.example/"onmouseover=alert(1))'
    )
    assert "<img" not in html and "&lt;img" in html
    assert 'href="javascript' not in html
    assert 'onmouseover=alert(1)"' not in html and "&quot;" in html


def test_empty_instructions_render_nothing():
    assert render_markdown_subset("") == ""
    assert render_markdown_subset(None) == ""
