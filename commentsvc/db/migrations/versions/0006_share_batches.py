"""Share batches: ids of Redis-buffered click batches already added to share_counts.

Revision ID: 5b7e0c9d1a26
Revises: c3a1d2e4f505
Create Date: 2026-11-28 01:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b7e0c9d1a26'
down_revision = 'c3a1d2e4f505'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('share_batches',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_share_batches'))
    )
    with op.batch_alter_table('share_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_share_batches_applied_at'), ['applied_at'], unique=False)


def downgrade():
    with op.batch_alter_table('share_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_share_batches_applied_at'))

    op.drop_table('share_batches')
