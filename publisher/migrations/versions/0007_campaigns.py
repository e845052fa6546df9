"""campaigns: one row per imported campaign file (name, source sha256, header). Its posts are found by their
idempotency scope ``campaign:NAME`` (row key = idempotency key), so posts needs no new column.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("header", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("campaigns")
