"""indexes the KPI benchmark asked for: a department's members, clients without contact

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

Measured with bench/kpi.py (100,000 clients, 1,000,000 contacts):
- users.department_id: every figure of a department (its dashboard, its plan's fact, the
  heads' digest) starts from "the users of department N". Without an index SQLite read the
  whole users table for each, and planned around it by reading a whole month of everyone's
  contacts to keep the department's (0.5 s of a department's month dashboard).
- clients (owner_id, last_contact_at) gains created_at: "no contact for N days, or never and
  that old" is then answered from the index alone instead of reading every client row of
  the team (8 ms -> 0.5 ms a department). Same leading columns: the lists ordered by last
  contact per owner keep using it.
"""

from collections.abc import Sequence

from alembic import op


revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index("ix_users_department_id", ["department_id"], unique=False)
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index("ix_clients_owner_last_contact")
        batch_op.create_index(
            "ix_clients_owner_last_contact",
            ["owner_id", "last_contact_at", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index("ix_clients_owner_last_contact")
        batch_op.create_index(
            "ix_clients_owner_last_contact", ["owner_id", "last_contact_at"], unique=False
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_department_id")
