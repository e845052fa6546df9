"""What reconcile and the audit witness need, stored with the rows:

- ``deliveries.first_attempt_at``: when the first platform call for this delivery was claimed. Every reconcile
  window is anchored here (never at ``updated_at``, which moves with every transition).
- ``deliveries.attempt_at``: when the latest attempt was claimed (Mastodon's idempotency key lives about an hour
  from its first use: any process can tell whether a lookup is still definitive).
- ``posts.audit_seq`` / ``deliveries.audit_seq``: the sequence number of the newest audit event about the row, so a
  row pointing past the chain's end shows a cut tail.

Existing rows keep NULL: reconcile falls back to the attempt's audit event time, verify skips the check for them.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("first_attempt_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("attempt_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("audit_seq", sa.Integer(), nullable=True))
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("audit_seq", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("audit_seq")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("audit_seq")
        batch.drop_column("attempt_at")
        batch.drop_column("first_attempt_at")
