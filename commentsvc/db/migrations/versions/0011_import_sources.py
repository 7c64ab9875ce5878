"""Import sources: where each imported comment came from (format, source id, article).

Revision ID: c9b2d1e15f09
Revises: b8a1c0d13e08
Create Date: 2026-12-04 14:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c9b2d1e15f09'
down_revision = 'b8a1c0d13e08'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('import_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=20), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_import_sources_article_id_articles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_import_sources_comment_id_comments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_sources')),
    sa.UniqueConstraint('format', 'article_id', 'source_id', name='uq_import_sources_origin')
    )
    with op.batch_alter_table('import_sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_sources_comment_id'), ['comment_id'], unique=False)


def downgrade():
    with op.batch_alter_table('import_sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_sources_comment_id'))

    op.drop_table('import_sources')
