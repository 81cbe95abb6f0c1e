"""Project instructions: a small Markdown subset, with everything else shown as text."""

from labeling.markup import render_instructions


def test_paragraphs_lists_emphasis_and_links():
    html = render_instructions("First **bold** and *soft*.\nSame paragraph.\n\n1. one\n2. two\n\n- a [link](https://x.example/p?a=1&b=2)")
    assert html == (
        "<p>First <strong>bold</strong> and <em>soft</em>.<br>Same paragraph.</p>\n"
        "<ol><li>one</li><li>two</li></ol>\n"
        '<ul><li>a <a href="https://x.example/p?a=1&amp;b=2" rel="noopener noreferrer" target="_blank">link</a></li></ul>'
    )


def test_html_and_unsafe_links_stay_text():
    html = render_instructions('<img src=x onerror=alert(1)> [x](javascript:alert(1)) [y](https://a.example/"onmouseover=alert(1))')
    assert "<img" not in html and "&lt;img" in html
    assert 'href="javascript' not in html
    assert 'onmouseover=alert(1)"' not in html and "&quot;" in html


def test_empty_instructions_render_nothing():
    assert render_instructions("") == ""
    assert render_instructions(None) == ""
