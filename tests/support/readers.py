"""A reader using the widget and the JSON API over HTTP, through Flask's test client."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

TOKEN_FIELD = re.compile(r'name="token" value="([^"]+)"')


class Reader:
    """A reader using the widget through HTTP, as a browser without JavaScript would."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def widget(self, **params: Any) -> Any:
        return self.client.get("/embed", query_string=params)

    def token(self, **params: Any) -> str:
        page = self.widget(**params)
        assert page.status_code == 200, page.get_data(as_text=True)
        match = TOKEN_FIELD.search(page.get_data(as_text=True))
        assert match, "the widget page has no form token"
        return match.group(1)

    def post(self, params: dict[str, Any] | None = None, **fields: Any) -> Any:
        """Post the form for the article in ``params`` (default: one test article)."""
        params = params or {"url": "https://news.example/a"}
        form = {"comment": "A comment", "name": "Ann", "email": "ann@example.com"}
        form.update(fields)
        form.setdefault("token", self.token(**params))
        form = {k: v for k, v in form.items() if v is not None}
        return self.client.post("/embed", query_string=params, data=form)

    def post_json(self, **payload: Any) -> Any:
        body = {
            "url": "https://news.example/a",
            "comment": "A comment",
            "name": "Ann",
            "email": "ann@example.com",
        }
        body.update(payload)
        if "token" not in body:
            article = {k: body[k] for k in ("url", "article") if body.get(k)}
            token = self.client.get("/api/v1/form-token", query_string=article).get_json()
            body["token"] = token["token"] if token else ""
        return self.client.post(
            "/api/v1/comments", json={k: v for k, v in body.items() if v is not None}
        )
