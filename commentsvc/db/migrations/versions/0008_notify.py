"""Notifications: the outbox, reply subscriptions, spent link tokens and webhook endpoints.

Revision ID: d0c3e2f16a10
Revises: 9d4e2b7c0a17
Create Date: 2026-12-04 14:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd0c3e2f16a10'
down_revision = '9d4e2b7c0a17'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notify_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('digest_key', sa.String(length=300), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claim', sa.String(length=32), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notify_outbox_dedupe_key'))
    )
    with op.batch_alter_table('notify_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_notify_outbox_claim', ['claim'], unique=False)
        batch_op.create_index('ix_notify_outbox_digest_key_status', ['digest_key', 'status'], unique=False)
        batch_op.create_index('ix_notify_outbox_recipient', ['recipient'], unique=False)
        batch_op.create_index('ix_notify_outbox_status_not_before', ['status', 'not_before'], unique=False)

    op.create_table('notify_subscribers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('secret', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirm_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_subscribers')),
    sa.UniqueConstraint('email', name=op.f('uq_notify_subscribers_email'))
    )
    op.create_table('notify_subscriptions',
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_notify_subscriptions_article_id_articles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['notify_subscribers.id'], name=op.f('fk_notify_subscriptions_subscriber_id_notify_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('subscriber_id', 'article_id', name=op.f('pk_notify_subscriptions'))
    )
    with op.batch_alter_table('notify_subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_notify_subscriptions_article_id', ['article_id'], unique=False)

    op.create_table('notify_used_tokens',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_used_tokens'))
    )
    op.create_table('notify_webhook_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('events', sa.String(length=300), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_webhook_endpoints'))
    )


def downgrade():
    op.drop_table('notify_webhook_endpoints')
    op.drop_table('notify_used_tokens')
    with op.batch_alter_table('notify_subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_notify_subscriptions_article_id')
    op.drop_table('notify_subscriptions')
    op.drop_table('notify_subscribers')
    with op.batch_alter_table('notify_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_notify_outbox_status_not_before')
        batch_op.drop_index('ix_notify_outbox_recipient')
        batch_op.drop_index('ix_notify_outbox_digest_key_status')
        batch_op.drop_index('ix_notify_outbox_claim')
    op.drop_table('notify_outbox')
