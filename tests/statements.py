"""Moved to tests/support/statements.py; this shim keeps ``from statements import ...`` working.

Delete it once no test imports ``statements`` or ``tests.statements`` (import
``support.statements`` instead).
"""

from support.statements import sent_sql, sent_statements

__all__ = ["sent_sql", "sent_statements"]
