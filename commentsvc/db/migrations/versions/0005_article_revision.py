"""Article revisions: a number triggers raise whenever an article's widget page changes.

Revision ID: c3a1d2e4f505
Revises: f4b336d6eb16
Create Date: 2026-11-28 01:40:00

"""
from alembic import op
import sqlalchemy as sa

from commentsvc.db.revisions import DROP_TRIGGERS_V1, TRIGGERS_V1


# revision identifiers, used by Alembic.
revision = 'c3a1d2e4f505'
down_revision = 'f4b336d6eb16'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))
    for statement in TRIGGERS_V1.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    for statement in DROP_TRIGGERS_V1.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_column('revision')
