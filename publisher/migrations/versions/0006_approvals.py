"""approvals: one decision (approved | rejected) per post and account that needs approval, so a post to several
accounts goes out only when every account with approvers has approved it (issue 13).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("post_id", sa.String(32), sa.ForeignKey("posts.id"), nullable=False),
        sa.Column("account", sa.String(100), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("post_id", "account", name="uq_approvals_post_account"),
    )


def downgrade() -> None:
    op.drop_table("approvals")
