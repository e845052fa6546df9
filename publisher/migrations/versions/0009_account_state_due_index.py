"""deliveries: the (account, state) index gains due_at, so the calendar counts a day of one account in one state
with an index range seek (no table row read, no sort): a month of 100,000 deliveries is a few thousand seeks
instead of a scan of every row. It replaces ix_deliveries_account_state, whose queries (an account, a state) it
answers the same way, so writes keep the same number of indexes.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_account_state_due", "deliveries", ["account", "state", "due_at"])
    op.drop_index("ix_deliveries_account_state", table_name="deliveries")


def downgrade() -> None:
    op.create_index("ix_deliveries_account_state", "deliveries", ["account", "state"])
    op.drop_index("ix_deliveries_account_state_due", table_name="deliveries")
