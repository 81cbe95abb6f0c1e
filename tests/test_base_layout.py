"""The layout every page shares: keyboard users can skip the top bar."""

import re


def test_skip_link_is_the_first_link_and_leads_to_the_main_content(labeler_client, ws_url):
    html = labeler_client.get(ws_url("workspace")).content.decode()
    body = html[html.index("<body") :]
    first_link = re.search(r"<a [^>]*>[^<]*</a>", body).group(0)
    assert 'href="#main"' in first_link and "Skip to content" in first_link
    # The target takes the focus (tabindex -1), so the next Tab continues inside the content.
    assert re.search(r'<main id="main" tabindex="-1">', body)
