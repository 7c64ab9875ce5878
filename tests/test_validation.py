"""Every validation rule, good and bad, through the widget form and the JSON API."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

import pytest

from commentsvc.comments.forms import control_characters

LONG = "x" * 5001

# (field, value, message shown next to the field)
BAD_FIELDS = [
    ("name", "", "Please enter your name."),
    ("name", "   ", "Please enter your name."),
    ("name", "n" * 101, "at most 100 characters"),
    ("name", "Ann\x07", "may not contain control characters"),
    ("name", "Ann\u202eeviL", "may not contain control characters"),
    # Zero-width spaces, a word joiner, a BOM, a Hangul filler: a name no one can see.
    ("name", "\u200b\u2060\ufeff\u3164", "Please enter your name."),
    ("email", "", "Please enter your email address."),
    ("email", "not-an-email", "Please enter a valid email address."),
    ("email", "ann@", "Please enter a valid email address."),
    ("email", "ann@example", "Please enter a valid email address."),
    ("email", "a" * 250 + "@example.com", "too long"),
    ("website", "javascript:alert(1)", "http:// or https://"),
    ("website", "ftp://example.com", "http:// or https://"),
    ("website", "data:text/html,hi", "http:// or https://"),
    ("website", "//evil.example", "http:// or https://"),
    ("website", "https://exa mple.com", "spaces"),
    ("website", "https://example.com/" + "p" * 200, "at most 200 characters"),
    ("website", "http://[::1", "is not valid"),
    ("website", "https://[example.com]/", "is not valid"),
    ("website", "https://example.com:99999/", "is not valid"),
    ("comment", "", "Please type your comment."),
    ("comment", " \n ", "Please type your comment."),
    ("comment", "\u200b\n\u200c\u200d\u00ad\u2800\ufe0f\U000e0041", "Please type your comment."),
    ("comment", LONG, "the limit is 5,000"),
    ("comment", "bell\x07", "may not contain control characters"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_FIELDS)
def test_form_refuses_bad_field_keeps_input_and_stores_nothing(
    reader, comments, field: str, value: str, message: str
) -> None:
    entered = {
        "comment": "My kept text",
        "name": "Kept Name",
        "email": "kept@example.com",
        "website": "https://kept.example",
    }
    entered[field] = value
    response = reader.post(**entered)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html
    # The message is tied to its field for screen readers.
    assert f'id="{field}-error"' in html
    # Beside the field's own description, if it has one (the email's "will not be published").
    assert re.search(rf'aria-describedby="(?:[\w-]+ )*{field}-error(?: [\w-]+)*"', html)
    for name, kept in entered.items():
        if name != field:
            assert kept in html, f"the reader's {name} was not kept"
    assert comments() == []


@pytest.mark.parametrize(("field", "value", "message"), BAD_FIELDS)
def test_api_refuses_bad_field_with_json_error(
    reader, comments, field: str, value: str, message: str
) -> None:
    response = reader.post_json(**{field: value})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_comment"
    assert message in body["fields"][field]
    assert comments() == []


@pytest.mark.parametrize(
    ("fields", "stored"),
    [
        ({"name": "  Ann Example  "}, {"name": "Ann Example"}),
        ({"name": "Zoë Ünïcødé 日本"}, {"name": "Zoë Ünïcødé 日本"}),
        ({"name": "n" * 100}, {"name": "n" * 100}),
        ({"email": "  Ann@EXAMPLE.com "}, {"email": "ann@example.com"}),
        ({"email": "ann+tag@sub.example.co.uk"}, {"email": "ann+tag@sub.example.co.uk"}),
        ({"website": ""}, {"website": ""}),
        ({"website": "https://ann.example/blog"}, {"website": "https://ann.example/blog"}),
        ({"website": "http://ann.example"}, {"website": "http://ann.example"}),
        ({"website": "ann.example"}, {"website": "https://ann.example"}),
        ({"website": "https://ann.example:8443/"}, {"website": "https://ann.example:8443/"}),
        ({"website": "http://[2001:db8::1]/"}, {"website": "http://[2001:db8::1]/"}),
        # Invisible characters inside visible text are the writer's (an emoji's joiner).
        ({"name": "Ann \U0001f469\u200d\U0001f4bb"}, {"name": "Ann \U0001f469\u200d\U0001f4bb"}),
        ({"comment": "zero\u200bwidth"}, {"body": "zero\u200bwidth"}),
        ({"comment": "x" * 5000}, {"body": "x" * 5000}),
        ({"comment": "  tabs\tand\nlines  "}, {"body": "tabs\tand\nlines"}),
    ],
)
def test_form_accepts_and_stores_normalised_values(reader, comments, fields, stored) -> None:
    response = reader.post(**fields)
    assert response.status_code == 303, response.get_data(as_text=True)
    [row] = comments()
    for column, value in stored.items():
        assert row[column] == value


@pytest.mark.settings(MAX_COMMENT_LENGTH=20)
def test_comment_length_limit_is_a_setting(reader, comments) -> None:
    assert reader.post(comment="x" * 21).status_code == 400
    assert reader.post(comment="x" * 20).status_code == 303
    assert len(comments()) == 1


def test_form_without_token_is_refused(reader, comments) -> None:
    response = reader.post(token="")
    assert response.status_code == 400
    assert "could not be verified" in response.get_data(as_text=True)
    assert comments() == []


def test_forged_token_is_refused(reader, comments) -> None:
    token = reader.token(url="https://news.example/a")
    response = reader.post(token=token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert response.status_code == 400
    assert comments() == []


def test_token_for_another_article_is_refused(reader, comments) -> None:
    other = reader.token(url="https://news.example/other")
    response = reader.post(token=other)
    assert response.status_code == 400
    assert "another article" in response.get_data(as_text=True)
    assert comments() == []


@pytest.mark.settings(FORM_MAX_AGE=1)
def test_expired_form_is_refused_with_a_resubmit_message(reader, comments, monkeypatch) -> None:
    import time

    token = reader.token(url="https://news.example/a")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)
    response = reader.post(token=token)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert comments() == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Say which article"),
        ({"url": "ftp://news.example/a"}, "http:// or https://"),
        ({"url": "javascript:alert(1)"}, "http:// or https://"),
        ({"url": "https://news.example/" + "a" * 2100}, "longer than"),
    ],
)
def test_widget_refuses_bad_article_parameters(client, params, message) -> None:
    response = client.get("/embed", query_string=params)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize("parent_id", ["abc", "-1", "99999", "1" * 30])
def test_reply_to_missing_parent_is_refused(reader, comments, parent_id) -> None:
    response = reader.post(parent_id=parent_id)
    assert response.status_code == 400
    assert "replying to is not available" in response.get_data(as_text=True)
    assert comments() == []


@pytest.mark.parametrize("field", ["comment", "name", "email", "website"])
def test_nul_byte_in_any_field_is_refused_naming_it(reader, comments, field) -> None:
    response = reader.post(**{field: "before\x00after"})
    assert response.status_code == 400
    assert f"The field &#39;{field}&#39; contains a NUL byte" in response.get_data(as_text=True)
    api = reader.post_json(**{field: "before\x00after"})
    assert api.status_code == 400
    assert comments() == []


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "Application/X-WWW-Form-Urlencoded; charset=UTF-8"],
)
def test_nul_byte_in_any_kind_of_form_body_is_refused(
    reader, client, comments, content_type
) -> None:
    # The check parses a body only when its Content-Type names a form: in any letter case,
    # and multipart (a moderator's file upload) as well as urlencoded.
    params = {"url": "https://news.example/a"}
    form = {"comment": "A comment", "name": "be\x00fore", "email": "ann@example.com"}
    form["token"] = reader.token(**params)
    if content_type.startswith("multipart"):
        response = client.post("/embed", query_string=params, data=form, content_type=content_type)
    else:
        body = "&".join(f"{k}={quote(v, safe='')}" for k, v in form.items())
        response = client.post(
            "/embed", query_string=params, data=body, headers={"Content-Type": content_type}
        )
    assert response.status_code == 400
    assert "The field &#39;name&#39; contains a NUL byte" in response.get_data(as_text=True)
    assert comments() == []


@pytest.mark.parametrize("allowed", ["", "\n\r\t"])
def test_exactly_the_control_bidi_noncharacter_and_replacement_characters_are_refused(
    allowed,
) -> None:
    """Every code point: refused exactly when Unicode calls it a control (Cc), when it
    overrides or isolates text direction, when it is a noncharacter (U+FDD0-U+FDEF and the
    last two of every plane: U+FFFE and U+FFFF cannot be in XML), or when it is U+FFFD
    (bytes that were not UTF-8)."""
    bidi = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    noncharacters = {chr(c) for c in range(0xFDD0, 0xFDF0)}
    noncharacters |= {chr(c) for c in range(0x110000) if c & 0xFFFE == 0xFFFE}
    for code in range(0x110000):
        ch = chr(code)
        refused = (unicodedata.category(ch) == "Cc" and ch not in allowed) or ch in (
            bidi | noncharacters | {"\ufffd"}
        )
        assert control_characters(f"a{ch}b", allowed) is refused, hex(code)
