"""The commenter's email never appears in anything public: HTML, JSON, headers, or a hash."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import pytest

A = {"url": "https://news.example/a", "title": "Privacy"}
EMAILS = ["approved.author@example.com", "held.author@example.org", "Replier@Example.NET"]


def forms_of(email: str) -> list[str]:
    """The address and the hashes that would identify it (Gravatar-style and others)."""
    variants = {email, email.lower(), email.split("@")[0]}
    out = set(variants)
    for variant in variants:
        for algorithm in ("md5", "sha1", "sha256"):
            out.add(hashlib.new(algorithm, variant.strip().lower().encode()).hexdigest())
    return sorted(out)


@pytest.fixture
def posted(reader, approve, client) -> dict[str, str]:
    """Approved, held and reply comments with known addresses; returns the public URLs to scan."""
    reader.post(A, email=EMAILS[0], comment="approved top")
    approve(1)
    reader.post(A, email=EMAILS[0], comment="auto-approved second")  # previously approved
    reader.post(A, email=EMAILS[2], comment="held reply", parent_id="1")
    held = reader.post(A, email=EMAILS[1], comment="held top")
    mine = parse_qs(urlsplit(held.headers["Location"]).query)["mine"][0]
    api_post = reader.post_json(email=EMAILS[1], comment="held via api", **A)
    assert api_post.status_code == 202
    return {"mine": mine, "location": held.headers["Location"]}


def public_responses(client, reader, posted) -> dict[str, object]:
    """One response for every public route, in every state that shows comments."""
    yield_ = {}
    embed = {**A}
    yield_["GET /"] = client.get("/")
    yield_["GET /embed"] = client.get("/embed", query_string=embed)
    yield_["GET /embed (own held)"] = client.get(posted["location"])
    yield_["GET /embed replytocom"] = client.get("/embed", query_string={**embed, "replytocom": 1})
    yield_["GET /embed page=last"] = client.get("/embed", query_string={**embed, "page": "last"})
    yield_["GET /embed bad"] = client.get("/embed", query_string={"url": "ftp://x"})
    yield_["POST /embed (invalid, other person)"] = reader.post(A, email="", comment="x")
    yield_["POST /embed (redirect)"] = reader.post(A, email="fresh@example.com", comment="new one")
    yield_["GET /api/v1/comments"] = client.get("/api/v1/comments", query_string=embed)
    yield_["GET /api/v1/comments (own)"] = client.get(
        "/api/v1/comments", query_string={**embed, "mine": posted["mine"]}
    )
    yield_["POST /api/v1/comments"] = reader.post_json(
        email="fresh2@example.com", comment="json one"
    )
    for sort in ("newest", "likes"):
        yield_[f"GET /embed sort={sort}"] = client.get(
            "/embed", query_string={**embed, "sort": sort}
        )
        yield_[f"GET /api/v1/comments sort={sort}"] = client.get(
            "/api/v1/comments", query_string={**embed, "sort": sort}
        )
    yield_["POST /api/v1/comments/1/like"] = client.post(
        "/api/v1/comments/1/like", headers={"User-Agent": "Mozilla/5.0 Firefox/133.0"}
    )
    yield_["POST /api/v1/preview"] = client.post(
        "/api/v1/preview", json={"comment": "**a preview** of https://x.example"}
    )
    yield_["GET /static/reader.js"] = client.get("/static/reader.js")
    avatar = client.get("/api/v1/comments", query_string=embed).get_json()["comments"][0]["avatar"]
    yield_["GET /avatar/x.svg"] = client.get(avatar)
    own = reader.post_json(email="editor@example.com", comment="mine to edit", **A).get_json()
    yield_["POST /api/v1/comments/1/edit"] = client.post(
        f"/api/v1/comments/{own['comment']['id']}/edit",
        json={"token": own["edit_token"], "comment": "edited text"},
    )
    edit_link = reader.post(A, email="nojs.editor@example.com", comment="no script")
    yield_["GET /embed (edit link)"] = client.get(edit_link.headers["Location"])
    yield_["POST /api/v1/comments/1/own"] = client.post(
        "/api/v1/comments/1/own", data={"token": "not-mine", "do": "delete"}
    )
    yield_["POST /api/v1/comments/1/delete"] = client.post(
        "/api/v1/comments/1/delete", json={"token": "not-mine"}
    )
    yield_["GET /embed.js"] = client.get("/embed.js")
    yield_["GET /count.js"] = client.get("/count.js")
    yield_["GET /favicon.ico"] = client.get("/favicon.ico")
    yield_["GET /embed (themed, own held)"] = client.get(
        posted["location"] + "&theme=auto&background=%23101010&font=Georgia"
    )
    yield_["GET /healthz"] = client.get("/healthz")
    yield_["GET /readyz"] = client.get("/readyz")
    yield_["GET /metrics"] = client.get("/metrics")
    yield_["GET /static/widget.js"] = client.get("/static/widget.js")
    yield_["GET /static/widget.css"] = client.get("/static/widget.css")
    yield_["GET /nowhere (404)"] = client.get("/nowhere")
    yield_["POST /api/v1/shares"] = client.post("/api/v1/shares", data={**embed, "network": "x"})
    yield_["GET /share/facebook"] = client.get("/share/facebook", query_string=embed)
    yield_["GET /api/v1/form-token"] = client.get("/api/v1/form-token", query_string=embed)
    yield_["GET /api/v1/counts"] = client.get("/api/v1/counts", query_string={"url": A["url"]})
    yield_["POST /api/v1/counts"] = client.post("/api/v1/counts", json={"url": [A["url"]]})
    yield_["OPTIONS /api/v1/counts"] = client.open("/api/v1/counts", method="OPTIONS")
    yield_["GET /api/v1/openapi.json"] = client.get("/api/v1/openapi.json")
    yield_["GET /feeds/article.atom"] = client.get("/feeds/article.atom", query_string=embed)
    yield_["GET /feeds/recent.atom"] = client.get("/feeds/recent.atom")
    yield_.update(link_pages(client, reader))
    # The admin shows emails, but only to a signed-in moderator: a visitor sees none of it.
    for rule in client.application.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            path = re.sub(r"<int:[^>]+>", "1", rule.rule)
            path = re.sub(r"<[^>]+>", "x", path)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield_[f"{method} {path} (visitor)"] = client.open(path, method=method)
    return yield_


def link_pages(client, reader) -> dict[str, object]:
    """The pages behind the links in emails, opened with valid tokens (they name a commenter)."""
    from commentsvc.core.extensions import db
    from commentsvc.notify.links import moderation_token, subscriber_token
    from commentsvc.notify.models import Subscriber

    client.application.config["SMTP_URL"] = "smtp://127.0.0.1:9"  # subscriptions need mail
    reader.post(A, email=EMAILS[2], comment="subscribe me", notify="y")
    with client.application.app_context():
        sub = db.session.execute(db.select(Subscriber)).scalar_one()
        held = moderation_token(4, "approve", "0" * 32)
        confirm = subscriber_token("confirm", sub.id, sub.secret)
        article = subscriber_token("unsubscribe", sub.id, sub.secret, 1)
    return {
        "GET /notify/moderate": client.get("/notify/moderate", query_string={"token": held}),
        "POST /notify/moderate (bad)": client.post("/notify/moderate", data={"token": "x"}),
        "GET /notify/confirm": client.get("/notify/confirm", query_string={"token": confirm}),
        "POST /notify/confirm": client.post("/notify/confirm", data={"token": confirm}),
        "GET /notify/unsubscribe": client.get(
            "/notify/unsubscribe", query_string={"token": article}
        ),
        "POST /notify/unsubscribe": client.post("/notify/unsubscribe", data={"token": article}),
    }


def test_no_email_in_any_public_response(app, client, reader, posted) -> None:
    responses = public_responses(client, reader, posted)
    # The scan covers every route the app serves; a new route must be added above.
    scanned = {name.split()[1].split("?")[0] for name in responses}
    for rule in app.url_map.iter_rules():
        path = rule.rule.replace("<path:filename>", "widget.js").replace("<network>", "facebook")
        path = re.sub(r"<[^>]+>", "x", re.sub(r"<int:[^>]+>", "1", path))
        assert path in scanned, f"{rule.rule} is not scanned for email addresses"
    # The scan sees the comments it should: it would catch a leak.
    page = responses["GET /embed (own held)"].get_data(as_text=True)
    assert "approved top" in page and "held top" in page
    assert "held top" in responses["GET /notify/moderate"].get_data(as_text=True)
    for name, response in responses.items():
        text = response.get_data(as_text=True) + "\n".join(f"{k}: {v}" for k, v in response.headers)
        response.close()
        for email in EMAILS:
            for form in forms_of(email):
                assert form.lower() not in text.lower(), f"{name} leaks {email} as {form!r}"
