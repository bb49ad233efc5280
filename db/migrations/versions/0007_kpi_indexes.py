"""indexes for the KPIs: periods per owner and company-wide

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ('clients', 'ix_clients_owner_created', ['owner_id', 'created_at']),
    ('interactions', 'ix_interactions_author_occurred', ['author_id', 'occurred_at', 'kind']),
    ('interactions', 'ix_interactions_occurred', ['occurred_at', 'kind', 'client_id']),
    ('deals', 'ix_deals_owner_created', ['owner_id', 'created_at']),
    ('deals', 'ix_deals_owner_closed', ['owner_id', 'closed_at']),
    ('deals', 'ix_deals_created', ['created_at', 'client_id']),
)


def upgrade() -> None:
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, name, _columns in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
