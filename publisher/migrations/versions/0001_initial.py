"""initial schema: posts, deliveries, audit_events

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "posts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("link", sa.Text),
        sa.Column("language", sa.String(16)),
        sa.Column("variables", sa.JSON, nullable=False),
        sa.Column("scheduled_at", sa.DateTime, nullable=False),
        sa.Column("not_after", sa.DateTime),
        sa.Column("thread_key", sa.String(200)),
        sa.Column("thread_seq", sa.Integer),
        sa.Column("idem_scope", sa.String(500)),
        sa.Column("idem_key", sa.String(500)),
        sa.Column("overrides", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("thread_key", "thread_seq", name="uq_posts_thread_seq"),
        sa.UniqueConstraint("idem_scope", "idem_key", name="uq_posts_idempotency"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("post_id", sa.String(32), sa.ForeignKey("posts.id"), nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("part", sa.Integer, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("due_at", sa.DateTime, nullable=False),
        sa.Column("not_after", sa.DateTime),
        sa.Column("prev_id", sa.String(32)),
        sa.Column("thread_key", sa.String(200)),
        sa.Column("lease_until", sa.DateTime),
        sa.Column("attempt_id", sa.String(32)),
        sa.Column("message_id", sa.String(64)),
        sa.Column("enqueued_at", sa.DateTime),
        sa.Column("remote_id", sa.String(300)),
        sa.Column("remote_url", sa.Text),
        sa.Column("receipt", sa.JSON),
        sa.Column("last_error", sa.Text),
        sa.Column("published_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_deliveries_state_due", "deliveries", ["state", "due_at"])
    op.create_index("ix_deliveries_prev", "deliveries", ["prev_id"])
    op.create_index("ix_deliveries_post", "deliveries", ["post_id"])
    op.create_index("ix_deliveries_account_state", "deliveries", ["account", "state"])
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("post_id", sa.String(32)),
        sa.Column("delivery_id", sa.String(32)),
        sa.Column("account", sa.String(100)),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_post", "audit_events", ["post_id"])
    op.create_index("ix_audit_delivery", "audit_events", ["delivery_id"])


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("deliveries")
    op.drop_table("posts")
