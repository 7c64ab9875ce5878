"""Notifications: PostgreSQL tells listening workers which article (or everything) changed.

Revision ID: b4a7c6d18e14
Revises: d0c3e2f16a10
Create Date: 2026-12-04 14:40:00

"""
from alembic import op

from commentsvc.db.revisions import DROP_NOTIFY_TRIGGERS_V1, NOTIFY_TRIGGERS_V1


# revision identifiers, used by Alembic.
revision = 'b4a7c6d18e14'
down_revision = 'd0c3e2f16a10'
branch_labels = None
depends_on = None


def upgrade():
    for statement in NOTIFY_TRIGGERS_V1.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    for statement in DROP_NOTIFY_TRIGGERS_V1.get(op.get_bind().dialect.name, []):
        op.execute(statement)
