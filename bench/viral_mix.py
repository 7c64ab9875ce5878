"""The viral story's request mix (bench/viral.py), as raw HTTP/1.1 requests for
bench/openloop.py: widget views, counts, share clicks and posts on the hot article."""

from __future__ import annotations

import itertools
import json
import os
import time

from harness import BROWSER_UA
from seed_viral import HOT, OTHERS
from workloads import q, widget_path


class Mix:
    """The viral story's request mix, as raw HTTP/1.1 requests for one base URL."""

    def __init__(self, host: str, token: str):
        self.host = host
        self.token = token
        counted = [HOT, *OTHERS[:19]]
        self.counts_path = "/api/v1/counts?" + "&".join(f"article={k}" for k in counted)
        self.hot_view = widget_path(HOT)
        self.other_views = [widget_path(k) for k in OTHERS]
        self.tag = f"{os.getpid()}-{int(time.time())}"
        # Every post and click unique across steps (a step's own numbering starts again at 0):
        # a repeated comment would be refused as a duplicate, a repeated click merged.
        self.serial = itertools.count()

    def _get(self, path: str) -> bytes:
        return (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: {BROWSER_UA}\r\n"
            "Accept: */*\r\n\r\n"
        ).encode()

    def _post(self, path: str, content_type: str, body: str, ua: str = BROWSER_UA) -> bytes:
        data = body.encode()
        return (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: {ua}\r\n"
            f"Origin: http://{self.host}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode() + data

    def view(self, n: int) -> tuple[str, bytes]:
        if n % 10 < 7:
            return "view", self._get(self.hot_view)
        return "view", self._get(self.other_views[n % len(self.other_views)])

    def counts(self, n: int) -> tuple[str, bytes]:
        return "counts", self._get(self.counts_path)

    def share(self, n: int) -> tuple[str, bytes]:
        network = ("facebook", "x", "whatsapp", "linkedin", "email")[n % 5]
        body = f"article={HOT}&url={q('https://news.example/' + HOT)}&network={network}"
        ua = f"{BROWSER_UA} reader-{self.tag}-{next(self.serial)}"  # a distinct reader: no click merged
        return "share", self._post("/api/v1/shares", "application/x-www-form-urlencoded", body, ua)

    def post(self, n: int) -> tuple[str, bytes]:
        who = f"{self.tag}-{next(self.serial)}"
        body = json.dumps(
            {
                "article": HOT,
                "url": f"https://news.example/{HOT}",
                "title": f"Benchmark article {HOT}",
                "comment": f"Comment {who}: keep the harbour light lit.",
                "name": f"Reader {who}",
                "email": f"reader-{who}@example.com",
                "token": self.token,
            }
        )
        return "post", self._post("/api/v1/comments", "application/json", body)

    def weights(self, reads_only: bool = False) -> list:
        if reads_only:  # nothing changes the hot article, so its cached page stays valid
            return [(95, self.view), (5, self.counts)]
        return [(90, self.view), (5, self.counts), (4, self.share), (1, self.post)]
