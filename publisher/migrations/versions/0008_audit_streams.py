"""The audit log as parallel hash chains (streams) plus a global chain of seals over their heads.

Every event already written becomes stream 0's history unchanged: ``stream_seq`` = ``seq``, and an event of stream 0
whose ``stream_seq`` equals its ``seq`` hashes exactly as before streams existed, so an upgraded log verifies as it
did. Stream 0's head row is the old chain's last event; the other streams start empty. On PostgreSQL a sequence
hands out the global ``seq`` (unique, ordered per row by its row lock) from past the old log's end.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

STREAMS = 16  # publisher.audit.STREAMS when this revision was written


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("stream", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("stream_seq", sa.Integer(), nullable=True))
    op.execute("UPDATE audit_events SET stream_seq = seq")
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("stream_seq", existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint("uq_audit_stream_seq", ["stream", "stream_seq"])
    heads = op.create_table(
        "audit_heads",
        sa.Column("stream", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("stream_seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
    )
    op.create_table(
        "audit_seals",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("heads", sa.Text(), nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=True),
    )
    conn = op.get_bind()
    last = conn.execute(sa.text("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")).first()
    seq, digest = (int(last[0]), str(last[1])) if last else (0, "0" * 64)
    op.bulk_insert(heads, [{"stream": s, "stream_seq": seq if s == 0 else 0, "hash": digest if s == 0 else "0" * 64,
                            "seq": seq if s == 0 else 0} for s in range(STREAMS)])
    if conn.dialect.name == "postgresql":
        op.execute(f"CREATE SEQUENCE audit_global_seq START WITH {seq + 1}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE audit_global_seq")
    op.drop_table("audit_seals")
    op.drop_table("audit_heads")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_constraint("uq_audit_stream_seq", type_="unique")
        batch.drop_column("stream_seq")
        batch.drop_column("stream")
