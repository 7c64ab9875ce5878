"""Abuse resistance: counters in fixed windows, moderators' session versions, emails
compared case-insensitively.

- ``window_counts``: rate limits and the share clicks one network may add, counted in the
  database when there is no Redis (commentsvc.core.window_counts);
- ``admin_users.session_version``: raised by signing out or changing the password, ending
  every session of that moderator;
- commenters' emails are stored lower-case from now on (commentsvc.comments.forms): the
  flood, duplicate and "first-time" checks compare them, so earlier rows are lowered too.

Revision ID: b8a1c0d13e08
Revises: b4a7c6d18e14
Create Date: 2026-12-04 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b8a1c0d13e08'
down_revision = 'b4a7c6d18e14'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'window_counts',
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('ends_at_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_window_counts')),
    )
    with op.batch_alter_table('window_counts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_window_counts_ends_at_ms'), ['ends_at_ms'], unique=False)
    with op.batch_alter_table('admin_users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_version', sa.Integer(), server_default=sa.text('0'), nullable=False)
        )
    op.execute("UPDATE comments SET email = lower(email) WHERE email <> lower(email)")


def downgrade():
    with op.batch_alter_table('admin_users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
    with op.batch_alter_table('window_counts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_window_counts_ends_at_ms'))
    op.drop_table('window_counts')
