"""Generated export files of realistic shape, for the import benchmark and the resume test.

Articles of ``per_article`` comments each; about a third of the comments reply to an earlier
comment of the same article; HTML bodies of a few sentences with paragraphs and a link;
mostly approved, some held and some spam; every commenter with an email and an IP address.
"""

from __future__ import annotations

import random
from pathlib import Path
from xml.sax.saxutils import escape

WORDS = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
    "duis",
    "aute",
    "irure",
    "in",
    "reprehenderit",
    "voluptate",
]


def _body(rng: random.Random) -> str:
    paragraphs = []
    for _ in range(rng.randint(1, 3)):
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 40)))
        paragraphs.append(f"<p>{sentence.capitalize()}.</p>")
    if rng.random() < 0.2:
        paragraphs.append('<p>See <a href="https://example.org/more">this page</a>.</p>')
    return "\n".join(paragraphs)


def _plan(count: int, per_article: int, seed: int) -> list[tuple[int, int, int | None, str, str]]:
    """(article number, comment id, parent id, status, body) for every comment."""
    rng = random.Random(seed)
    rows: list[tuple[int, int, int | None, str, str]] = []
    for number in range(count):
        article = number // per_article
        first_of_article = article * per_article + 1
        comment_id = number + 1
        parent = None
        if comment_id > first_of_article and rng.random() < 0.33:
            parent = rng.randint(first_of_article, comment_id - 1)
        status = rng.choices(["1", "0", "spam"], weights=[90, 7, 3])[0]
        rows.append((article, comment_id, parent, status, _body(rng)))
    return rows


def write_wxr(path: Path, count: int, per_article: int = 100, seed: int = 1) -> Path:
    """A WordPress WXR 1.2 file with ``count`` comments."""
    rows = _plan(count, per_article, seed)
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:wp="http://wordpress.org/export/1.2/">\n<channel>\n'
            "<title>Generated</title><wp:wxr_version>1.2</wp:wxr_version>\n"
        )
        current = -1
        for article, comment_id, parent, status, body in rows:
            if article != current:
                if current >= 0:
                    out.write("</item>\n")
                current = article
                out.write(
                    f"<item><title>Article {article}</title>"
                    f"<link>https://blog.example/{article}/</link>"
                    f"<wp:post_id>{article + 1}</wp:post_id><wp:post_type>post</wp:post_type>\n"
                )
            user = comment_id % 997
            out.write(
                "<wp:comment>"
                f"<wp:comment_id>{comment_id}</wp:comment_id>"
                f"<wp:comment_author><![CDATA[Reader {user}]]></wp:comment_author>"
                f"<wp:comment_author_email>reader{user}@example.com</wp:comment_author_email>"
                "<wp:comment_author_url>https://reader.example/</wp:comment_author_url>"
                f"<wp:comment_author_IP>192.0.2.{user % 250}</wp:comment_author_IP>"
                f"<wp:comment_date_gmt>2020-01-01 {comment_id // 3600 % 24:02d}:"
                f"{comment_id // 60 % 60:02d}:{comment_id % 60:02d}</wp:comment_date_gmt>"
                f"<wp:comment_content><![CDATA[{body}]]></wp:comment_content>"
                f"<wp:comment_approved>{status}</wp:comment_approved>"
                "<wp:comment_type>comment</wp:comment_type>"
                f"<wp:comment_parent>{parent or 0}</wp:comment_parent>"
                "</wp:comment>\n"
            )
        if current >= 0:
            out.write("</item>\n")
        out.write("</channel>\n</rss>\n")
    return path


def write_disqus(path: Path, count: int, per_article: int = 100, seed: int = 2) -> Path:
    """A Disqus export with ``count`` posts: the threads first, then the posts."""
    rows = _plan(count, per_article, seed)
    articles = rows[-1][0] + 1 if rows else 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="utf-8"?>\n<disqus xmlns="http://disqus.com" '
            'xmlns:dsq="http://disqus.com/disqus-internals">\n'
        )
        for article in range(articles):
            out.write(
                f'<thread dsq:id="t{article}"><id/><link>https://blog.example/{article}/</link>'
                f"<title>Article {article}</title><isDeleted>false</isDeleted></thread>\n"
            )
        for _article, comment_id, parent, status, body in rows:
            user = comment_id % 997
            parent_tag = f'<parent dsq:id="{parent}"/>' if parent else ""
            out.write(
                f'<post dsq:id="{comment_id}"><id/>'
                f"<message>{escape(body)}</message>"
                f"<createdAt>2020-01-01T{comment_id // 3600 % 24:02d}:{comment_id // 60 % 60:02d}:"
                f"{comment_id % 60:02d}Z</createdAt>"
                f"<isDeleted>false</isDeleted><isSpam>{'true' if status == 'spam' else 'false'}"
                "</isSpam>"
                f"<author><name>Reader {user}</name><email>reader{user}@example.com</email>"
                "<isAnonymous>false</isAnonymous></author>"
                f"<ipAddress>192.0.2.{user % 250}</ipAddress>"
                f'<thread dsq:id="t{_article}"/>{parent_tag}</post>\n'
            )
        out.write("</disqus>\n")
    return path


def expected_counts(count: int, per_article: int = 100, seed: int = 1) -> dict[str, int]:
    """How many comments of each WXR status the generated file holds."""
    names = {"1": "approved", "0": "pending", "spam": "spam"}
    counts: dict[str, int] = {}
    for _, _, _, status, _ in _plan(count, per_article, seed):
        counts[names[status]] = counts.get(names[status], 0) + 1
    return counts
