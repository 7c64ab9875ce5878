"""Mails to commenters in their language (issue 16): the widget's language a subscriber used.

Existing subscribers get English, the language their mails were in so far.

Revision ID: c3d5e7f16b13
Revises: e1d4f3a17b11
Create Date: 2026-12-04 16:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3d5e7f16b13'
down_revision = 'e1d4f3a17b11'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notify_subscribers', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('language', sa.String(length=10), server_default='en', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('notify_subscribers', schema=None) as batch_op:
        batch_op.drop_column('language')
