"""Webhook endpoints: PostgreSQL tells listening workers when they change (issue 18).

Every post asked the database which webhook endpoints are active, inside the transaction
that holds its article's row: a round trip per post for a table that changes when a
moderator edits it. Workers now keep the answer, and this trigger tells them ("*", as for
the settings) when to read it again. SQLite has nobody to notify: it keeps asking.

Revision ID: e5f7a9b38d15
Revises: d4e6f8a27c14
Create Date: 2026-12-05 19:40:00

"""
from alembic import op

from commentsvc.db.revisions import DROP_NOTIFY_TRIGGERS_V2, NOTIFY_TRIGGERS_V2


# revision identifiers, used by Alembic.
revision = 'e5f7a9b38d15'
down_revision = 'd4e6f8a27c14'
branch_labels = None
depends_on = None


def upgrade():
    for statement in NOTIFY_TRIGGERS_V2.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    for statement in DROP_NOTIFY_TRIGGERS_V2.get(op.get_bind().dialect.name, []):
        op.execute(statement)
