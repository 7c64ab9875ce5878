"""An index for the duplicate check: one email's comments on one article.

Without it SQLite, which plans without statistics, answered the check by walking every
comment of the article through its page index, so each post cost more as a thread grew.

Revision ID: 9d4e2b7c0a17
Revises: 5b7e0c9d1a26
Create Date: 2026-11-28 02:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '9d4e2b7c0a17'
down_revision = '5b7e0c9d1a26'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.create_index('ix_comments_email_article', ['email', 'article_id'], unique=False)


def downgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_email_article')
