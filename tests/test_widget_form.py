"""Small things a reader notices in the form (issue 14, item 7), without JavaScript."""

from __future__ import annotations

import re

A = {"url": "https://news.example/a", "title": "Lighthouse"}


def test_refused_post_lands_at_the_form_with_a_summary_first(reader, client) -> None:
    html = client.get("/embed", query_string=A).get_data(as_text=True)
    action = re.search(r'<form action="([^"]+)"', html).group(1)
    assert action.endswith("#respond")  # the refused page opens at the form
    response = reader.post(A, email="not-an-email", name="")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    summary = re.search(r'<p class="form-error" id="form-error" role="alert">([^<]+)</p>', page)
    assert summary, page
    assert summary.group(1) == "Please correct the marked fields: Name, Email."
    # It comes before the fields it names.
    assert page.index('id="form-error"') < page.index('id="comment"')


def test_the_comment_counter_is_in_the_page_for_the_script(client) -> None:
    html = client.get("/embed", query_string=A).get_data(as_text=True)
    assert re.search(r'<textarea id="comment" [^>]*maxlength="\d+"', html)  # without JavaScript
    assert 'id="comment-counter" aria-live="polite" hidden' in html
    assert 'id="form-hold" role="status" hidden' in html
