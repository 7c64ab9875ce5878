"""Fingerprinted static files: ``?v=<hash>`` in every URL, so browsers may keep them a year."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app

from commentsvc.core.flask_app import this_app, this_request

YEAR = 365 * 24 * 3600


@cache
def _file_hash(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def file_version(filename: str) -> str:
    """The content hash of one static file (read once per process)."""
    return _file_hash(str(Path(this_app().static_folder or "") / filename))


@cache
def _release(static_folder: str, template_folder: str) -> str:
    digest = hashlib.sha256()
    for folder in (static_folder, template_folder):
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def release_id() -> str:
    """A fingerprint of the templates and static files being served (read once per process)."""
    app = current_app
    release = app.extensions.get("commentsvc.release")
    if release is None:
        templates = str(Path(app.root_path) / (app.template_folder or "templates"))
        release = app.extensions["commentsvc.release"] = _release(
            app.static_folder or "", templates
        )
    return release


def _add_version(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint == "static" and "filename" in values and "v" not in values:
        values["v"] = file_version(values["filename"])


def _long_cache(response: Response) -> Response:
    # Only a URL naming the file's exact content may be cached for good.
    req = this_request()
    if req.endpoint == "static" and response.status_code == 200:
        filename = (req.view_args or {}).get("filename", "")
        if req.args.get("v") == file_version(filename):
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return response


def publisher_script(body: bytes) -> Response:
    """A script publishers include by a fixed URL (embed.js, count.js): readable from any page,
    cached for minutes (its URL carries no version), and answered 304 when unchanged."""
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.make_conditional(this_request())  # makes the 304 in place
    return response


def init_app(app: Flask) -> None:
    """Version every static URL and cache versioned files for a year."""
    app.url_defaults(_add_version)
    app.after_request(_long_cache)
