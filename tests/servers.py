"""Moved to tests/support/servers.py; this shim keeps ``from servers import ...`` working.

Delete it once no test imports ``servers`` (import ``support.servers`` instead).
"""

from support.servers import COMMENTSVC, GUNICORN, RELAXED, ROOT, SECRET, fetch, free_port, serving

__all__ = ["COMMENTSVC", "GUNICORN", "RELAXED", "ROOT", "SECRET", "fetch", "free_port", "serving"]
