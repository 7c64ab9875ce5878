"""The duplicate check by a hash of the text (issue 18): ``comments.body_hash`` and its index.

Before, the check read every earlier comment of the sender on the article and compared
texts, so a post cost more with each comment the sender had there. The first-time
moderation check gets the name into its index for the same reason. Existing rows get their
hash here, in one UPDATE on either database (SQLite through a function registered on this
connection for the migration; PostgreSQL in SQL, the same value as ``hash_body``).

Revision ID: d4e6f8a27c14
Revises: c3d5e7f16b13
Create Date: 2026-12-04 18:40:00

"""
from alembic import op
import sqlalchemy as sa

from commentsvc.db.models import BODY_HASH_SQL, hash_body


# revision identifiers, used by Alembic.
revision = 'd4e6f8a27c14'
down_revision = 'c3d5e7f16b13'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_hash', sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute(f"UPDATE comments SET body_hash = {BODY_HASH_SQL.format(body='body')}")
    else:
        driver = bind.connection.driver_connection
        driver.create_function('commentsvc_body_hash', 1, hash_body, deterministic=True)
        op.execute("UPDATE comments SET body_hash = commentsvc_body_hash(body)")
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_email_article')
        batch_op.drop_index('ix_comments_email_status')
        batch_op.create_index(
            'ix_comments_email_article_hash', ['email', 'article_id', 'body_hash'], unique=False
        )
        batch_op.create_index(
            'ix_comments_email_name_status', ['email', 'name', 'status'], unique=False
        )


def downgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_email_name_status')
        batch_op.drop_index('ix_comments_email_article_hash')
        batch_op.create_index('ix_comments_email_status', ['email', 'status'], unique=False)
        batch_op.create_index('ix_comments_email_article', ['email', 'article_id'], unique=False)
        batch_op.drop_column('body_hash')
