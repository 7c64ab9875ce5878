"""Reader features (issue 17): rendered Markdown, likes, the index of the "most liked" order,
when an author edited or deleted their comment, and featured comments.

Existing comments keep ``body_html`` NULL and render as before (plain text, paragraphs, links).

Revision ID: e1d4f3a17b11
Revises: c9b2d1e15f09
Create Date: 2026-12-04 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e1d4f3a17b11'
down_revision = 'c9b2d1e15f09'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_html', sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column('like_count', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('featured_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            'ix_comments_article_featured', ['article_id', 'featured_at'], unique=False
        )
        batch_op.create_index(
            'ix_comments_article_likes',
            ['article_id', 'status', 'root_id', 'like_count', 'id'],
            unique=False,
        )
    op.create_table(
        'comment_likes',
        sa.Column('comment_id', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('comment_id', 'fingerprint'),
    )


def downgrade():
    op.drop_table('comment_likes')
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_article_likes')
        batch_op.drop_index('ix_comments_article_featured')
        batch_op.drop_column('featured_at')
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('edited_at')
        batch_op.drop_column('like_count')
        batch_op.drop_column('body_html')
