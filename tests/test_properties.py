"""Property-based tests (hypothesis): the URL normaliser and the comment validators."""

from __future__ import annotations

import contextlib
import re
from urllib.parse import parse_qsl, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commentsvc.articles.keys import TRACKING_PARAMS, ArticleError, normalise_url
from commentsvc.comments.render import render_body

TRACKERS = sorted(TRACKING_PARAMS) + ["utm_source", "utm_medium", "UTM_Campaign", "utm_x"]
segment = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
host = st.from_regex(
    r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?(\.[a-zA-Z]{2,6}){1,2}", fullmatch=True
)


@st.composite
def article_urls(draw) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path = "/".join(draw(st.lists(segment, max_size=3)))
    params = draw(st.lists(st.tuples(st.sampled_from(TRACKERS) | segment, segment), max_size=4))
    query = "&".join(f"{k}={v}" for k, v in params)
    fragment = draw(segment)
    return f"{scheme}://{draw(host)}{port}/{path}?{query}#{fragment}"


@given(st.text(max_size=300))
@settings(max_examples=300)
def test_normaliser_never_raises_anything_but_article_error(raw: str) -> None:
    with contextlib.suppress(ArticleError):
        normalise_url(raw)


@given(article_urls())
@settings(max_examples=300)
def test_normaliser_is_idempotent_and_drops_every_tracker(url: str) -> None:
    once = normalise_url(url)
    assert normalise_url(once) == once
    parts = urlsplit(once)
    assert parts.fragment == ""
    assert parts.scheme in ("http", "https") and parts.netloc == parts.netloc.lower()
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        assert not name.lower().startswith("utm_") and name.lower() not in TRACKING_PARAMS
    assert not parts.netloc.endswith((":80", ":443")) or parts.port not in (
        {"http": 80, "https": 443}[parts.scheme],
    )


@given(st.text(max_size=500))
@settings(max_examples=300)
def test_rendered_body_never_contains_raw_markup_from_the_text(text: str) -> None:
    html = str(render_body(text))
    # Only the tags we write ourselves; the reader's < and > are always escaped.
    stripped = html
    for tag in ("<p>", "</p>", "<br>", "</a>"):
        stripped = stripped.replace(tag, "")
    stripped = re.sub(
        r'<a href="[^"<>]*" rel="nofollow ugc noopener" target="_blank">', "", stripped
    )
    assert "<" not in stripped and ">" not in stripped


form_text = st.text(max_size=120)


@given(name=form_text, email=form_text, website=form_text, comment=st.text(max_size=600))
@settings(
    max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
def test_validators_answer_every_input_without_raising(
    plain_app, name, email, website, comment
) -> None:
    from werkzeug.datastructures import MultiDict

    from commentsvc.comments.forms import CommentForm

    with plain_app.test_request_context():
        form = CommentForm(
            formdata=MultiDict(
                {"name": name, "email": email, "website": website, "comment": comment}
            )
        )
        valid = form.validate()
        if valid:
            # What passes is clean: trimmed, no control characters, web-only website.
            assert form.name.data == form.name.data.strip() and 0 < len(form.name.data) <= 100
            assert all(ord(c) >= 32 for c in form.name.data)
            assert form.website.data == "" or form.website.data.startswith(("http://", "https://"))
            assert "@" in form.email.data
        else:
            assert form.errors and all(form.errors.values())
