"""Feeds and their seen entries (publisher.workflows.feeds): a feed's URL, accounts, templates, cadence, fetch
state (ETag, Last-Modified, last success/error, next poll, failures) and poll lease; one row per entry ever seen,
with the post that announced it (written in the same transaction as the post).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("accounts", sa.JSON, nullable=False),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("templates", sa.JSON, nullable=False),
        sa.Column("interval_seconds", sa.Integer, nullable=False),
        sa.Column("max_per_poll", sa.Integer, nullable=False),
        sa.Column("spacing_seconds", sa.Integer, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("disabled_reason", sa.Text),
        sa.Column("backfill", sa.Integer),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("last_success", sa.DateTime()),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_at", sa.DateTime()),
        sa.Column("next_poll", sa.DateTime(), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("lease_until", sa.DateTime()),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_feeds_state_next", "feeds", ["state", "next_poll"])
    op.create_table(
        "feed_entries",
        sa.Column("feed", sa.String(100), primary_key=True),
        sa.Column("entry_key", sa.String(64), primary_key=True),
        sa.Column("identity", sa.Text, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("link", sa.Text),
        sa.Column("published", sa.DateTime()),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("post_id", sa.String(32)),
    )
    op.create_index("ix_feed_entries_post", "feed_entries", ["post_id"])


def downgrade() -> None:
    op.drop_index("ix_feed_entries_post", "feed_entries")
    op.drop_table("feed_entries")
    op.drop_index("ix_feeds_state_next", "feeds")
    op.drop_table("feeds")
