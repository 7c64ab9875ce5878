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


def test_the_website_field_takes_an_address_without_its_scheme(reader, client) -> None:
    # type="url" made browsers refuse "tess.example/blog", which the server takes (adding
    # https://): a text input, with the address keyboard and autofill kept.
    html = client.get("/embed", query_string=A).get_data(as_text=True)
    website = re.search(r'<input id="website"[^>]*>', html).group(0)
    assert 'type="text"' in website and 'inputmode="url"' in website
    assert 'autocomplete="url"' in website
    # The refusal says what is accepted: a bare address too, not only http:// or https://.
    page = reader.post(A, website="ftp://tess.example/blog").get_data(as_text=True)
    assert (
        "The website must be a web address such as example.com/blog, "
        "or one starting with http:// or https://."
    ) in page
    german = reader.post({**A, "lang": "de"}, website="ftp://tess.example/blog")
    assert "Webadresse wie example.com/blog" in german.get_data(as_text=True)


def test_a_refused_email_keeps_its_note_next_to_its_error(reader) -> None:
    page = reader.post(A, email="not-an-email").get_data(as_text=True)
    email = re.search(r'<input id="email"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in email
    assert 'aria-describedby="email-notes email-error"' in email
    name = re.search(r'<input id="name"[^>]*>', page).group(0)
    assert "aria-describedby" not in name  # no error, no note of its own
