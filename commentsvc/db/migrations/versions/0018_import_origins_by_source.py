"""Imported comments are known by their identity in their source: ``import_sources.source_thread``.

Before, an origin was (format, article here, source id): imported again with another site
address (a first guess that was wrong, a site moved to https or off www.), the same comments
named other articles, matched no origin, and were all stored a second time. An origin now
holds where the source id is unique in the system it came from (a WordPress post's link, a
Disqus thread's id, an Isso thread's path, our article's key), as the file names it, so a
later import recognises the comment however it maps it (docs/decisions/0015, 2026-12-08).

The unique key becomes (format, source_thread, source_id, article_id). Origins stored before
keep ``source_thread`` NULL (what the file named is not known any more) and are still found
by their article, as before. Our own JSON export's origins move to the format name that our
WXR export now shares ("commentsvc"): both name a comment by its id in the same database.

Revision ID: 18b0d2f4a6c8
Revises: 07a9c1e3b5d8
Create Date: 2026-12-08 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '18b0d2f4a6c8'
down_revision = '07a9c1e3b5d8'
branch_labels = None
depends_on = None


def upgrade():
    # SQLite rebuilds the table (a table constraint cannot be dropped in place); nothing
    # refers to import_sources, and its rows are copied as they are.
    with op.batch_alter_table('import_sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_thread', sa.String(length=200), nullable=True))
        batch_op.drop_constraint('uq_import_sources_origin', type_='unique')
        batch_op.create_unique_constraint(
            'uq_import_sources_origin', ['format', 'source_thread', 'source_id', 'article_id']
        )
    op.execute("UPDATE import_sources SET format = 'commentsvc' WHERE format = 'json'")


def downgrade():
    op.execute("UPDATE import_sources SET format = 'json' WHERE format = 'commentsvc'")
    # An origin recognised by its identity only would break the old key: the duplicates of
    # (format, article, source id) keep their oldest row.
    op.execute(
        "DELETE FROM import_sources WHERE id NOT IN (SELECT min(id) FROM import_sources "
        "GROUP BY format, article_id, source_id)"
    )
    with op.batch_alter_table('import_sources', schema=None) as batch_op:
        batch_op.drop_constraint('uq_import_sources_origin', type_='unique')
        batch_op.create_unique_constraint(
            'uq_import_sources_origin', ['format', 'article_id', 'source_id']
        )
        batch_op.drop_column('source_thread')
