"""The database layer: migrations, UTC times, FSM storage, concurrent writes on SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from aiogram.fsm.storage.base import StorageKey
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from db.fsm_storage import SQLAlchemyStorage
from db.migrate import alembic_config, downgrade, upgrade
from db.models import AuditEntry, Department, DepartmentKind
from tests.conftest import POSTGRES_URL


def test_every_migration_goes_up_down_and_up_again(tmp_path):
    url = POSTGRES_URL or f"sqlite+aiosqlite:///{tmp_path}/stairway.sqlite3"
    script = ScriptDirectory.from_config(alembic_config(url))
    revisions = list(reversed(list(script.walk_revisions())))
    assert revisions, "no migrations found"
    for revision in revisions:
        upgrade(url, revision.revision)
        downgrade(url, revision.down_revision or "base")
        upgrade(url, revision.revision)


async def test_times_are_stored_in_utc_and_read_back_aware(session):
    moscow = timezone(timedelta(hours=3))
    department = Department(
        name="D", kind=DepartmentKind.SALES, created_at=datetime(2026, 3, 1, 12, 0, tzinfo=moscow)
    )
    session.add(department)
    await session.commit()
    department_id = department.id
    session.expire_all()

    loaded = await session.get(Department, department_id)
    assert loaded.created_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert loaded.created_at.tzinfo is UTC
    raw = await session.scalar(text("SELECT created_at FROM departments"))
    assert str(raw).startswith("2026-03-01 09:00:00")


async def test_naive_datetimes_are_refused(session):
    session.add(Department(name="D", kind=DepartmentKind.SALES, created_at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive datetime"):
        await session.commit()


async def test_fsm_storage_keeps_state_and_data_and_upserts(session_factory):
    storage = SQLAlchemyStorage(session_factory)
    key = StorageKey(bot_id=1, chat_id=42, user_id=42)

    assert await storage.get_state(key) is None and await storage.get_data(key) == {}
    await storage.set_state(key, "Form:name")
    await storage.set_data(key, {"name": "Ромашка", "amount": "150000.50"})
    await storage.set_state(key, "Form:kind")
    assert await storage.get_state(key) == "Form:kind"
    assert await storage.update_data(key, {"kind": "b2b"}) == {
        "name": "Ромашка",
        "amount": "150000.50",
        "kind": "b2b",
    }

    other = SQLAlchemyStorage(session_factory)  # a new process sees the same conversation
    assert await other.get_state(key) == "Form:kind"
    assert (await other.get_data(key))["name"] == "Ромашка"
    await other.set_state(key, None)
    await other.set_data(key, {})
    assert await storage.get_state(key) is None and await storage.get_data(key) == {}


async def test_concurrent_fsm_writes_for_many_users(session_factory):
    storage = SQLAlchemyStorage(session_factory)

    async def conversation(user_id: int) -> None:
        key = StorageKey(bot_id=1, chat_id=user_id, user_id=user_id)
        for step in range(5):
            await storage.set_state(key, f"S:{step}")
            await storage.update_data(key, {f"k{step}": step})

    await asyncio.gather(*(conversation(i) for i in range(20)))
    for user_id in range(20):
        key = StorageKey(bot_id=1, chat_id=user_id, user_id=user_id)
        assert await storage.get_state(key) == "S:4"
        assert await storage.get_data(key) == {f"k{i}": i for i in range(5)}


async def test_read_then_write_transactions_never_fail_with_database_locked(session_factory):
    """Forty updates at once, each reading then writing: none may fail, none may be lost."""

    async def update(n: int) -> None:
        async with session_factory() as session:
            count = await session.scalar(select(func.count()).select_from(AuditEntry))
            await asyncio.sleep(0.001)
            session.add(AuditEntry(actor_id=None, action="t", object_type="x", object_id=count))
            await session.commit()

    await asyncio.gather(*(update(n) for n in range(40)))
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 40
