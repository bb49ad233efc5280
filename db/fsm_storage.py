"""aiogram FSM storage on our own database, so conversations survive a restart.

One row per StorageKey. Writes are single-statement upserts (INSERT ... ON CONFLICT DO UPDATE),
atomic on both SQLite and PostgreSQL, each in its own short transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseStorage,
    DefaultKeyBuilder,
    KeyBuilder,
    StateType,
    StorageKey,
)
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ConversationState
from db.session import end_read_transaction
from db.types import utcnow


class SQLAlchemyStorage(BaseStorage):
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        key_builder: KeyBuilder | None = None,
    ) -> None:
        self._sessions = session_factory
        self._keys = key_builder or DefaultKeyBuilder(with_destiny=True)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._upsert(self._keys.build(key), state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        row = await self._get(self._keys.build(key))
        return row.state if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._upsert(self._keys.build(key), data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await self._get(self._keys.build(key))
        return dict(row.data) if row and row.data else {}

    async def close(self) -> None:
        """The engine belongs to the application, which disposes of it."""

    async def _get(self, key: str) -> ConversationState | None:
        await end_read_transaction()
        async with self._sessions() as session:
            return await session.scalar(
                select(ConversationState).where(ConversationState.key == key)
            )

    async def _upsert(self, key: str, **values: Any) -> None:
        await end_read_transaction()
        async with self._sessions() as session, session.begin():
            dialect = session.bind.dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            row = {"state": None, "data": {}, **values, "key": key, "updated_at": utcnow()}
            statement = insert(ConversationState).values(**row)
            statement = statement.on_conflict_do_update(
                index_elements=[ConversationState.key],
                set_={name: statement.excluded[name] for name in (*values, "updated_at")},
            )
            await session.execute(statement)
