"""Helpers the tests import; the fixtures that use them live in tests/conftest.py.

pyproject.toml puts tests/ on ``sys.path`` (``pythonpath``), so a test imports them as
``from support.readers import Reader``:

- ``admin``: a signed-in moderator driving /admin/ over HTTP, and rows stored directly;
- ``databases``: the PostgreSQL and Redis servers the tests use, and a throwaway database;
- ``readers``: a reader using the widget and the JSON API over HTTP;
- ``servers``: the shipped commands started as real servers on free ports;
- ``sites``: the widget and a publisher's site served for the browser tests;
- ``statements``: the SQL an app sends inside a block;
- ``xss``: the script-injection corpus and the checks that a page stayed inert.
"""
