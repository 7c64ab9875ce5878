"""A hidden top-level comment keeps its place for its replies: ``comments.kept_for_replies``.

Before, a moderator who trashed, spammed or unapproved a top-level comment hid its approved
replies too, though the article's count still included them ("3 Responses" over one shown).
Such a comment is now marked, and its page shows "This comment was removed." in its place
with the replies under it (commentsvc.comments.kept_places). The partial index holds the
marked rows only, and ``articles.has_kept_places`` tells a page whether to look at all.
Existing hidden comments with approved replies, and their articles, are marked here.

Added in place (``ALTER TABLE ... ADD COLUMN``), not by rebuilding the table: on SQLite a
rebuild would lose the ``AUTOINCREMENT`` of migration 0016.

Revision ID: 07a9c1e3b5d8
Revises: f6a8b0c49e26
Create Date: 2026-12-07 21:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '07a9c1e3b5d8'
down_revision = 'f6a8b0c49e26'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        'comments',
        sa.Column('kept_for_replies', sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute(
        "UPDATE comments SET kept_for_replies = TRUE "
        "WHERE root_id IS NULL AND status <> 'approved' AND EXISTS ("
        "SELECT 1 FROM comments AS replies "
        "WHERE replies.root_id = comments.id AND replies.status = 'approved')"
    )
    op.add_column(
        'articles',
        sa.Column('has_kept_places', sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute(
        "UPDATE articles SET has_kept_places = TRUE WHERE EXISTS ("
        "SELECT 1 FROM comments WHERE comments.article_id = articles.id "
        "AND comments.kept_for_replies)"
    )
    op.create_index(
        'ix_comments_kept_for_replies',
        'comments',
        ['article_id', 'kept_for_replies'],
        unique=False,
        sqlite_where=sa.text('kept_for_replies = 1'),
        postgresql_where=sa.text('kept_for_replies'),
    )


def downgrade():
    op.drop_index('ix_comments_kept_for_replies', table_name='comments')
    # In place on both databases (SQLite 3.35+): a batch rebuild would lose AUTOINCREMENT.
    op.execute('ALTER TABLE comments DROP COLUMN kept_for_replies')
    op.execute('ALTER TABLE articles DROP COLUMN has_kept_places')
