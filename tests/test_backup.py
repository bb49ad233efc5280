"""`python -m bot backup PATH`: an operator backs up the live SQLite database while the bot
runs, and a restore (the file copied back) finds everything. PostgreSQL gets pg_dump advice."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.__main__ import main
from bot.backup import run
from db.models import Client, ClientKind, Department, User
from db.session import create_engine, create_session_factory
from tests.conftest import POSTGRES_URL
from tests.fake_telegram import TOKEN
from tests.stories import add_department, admin_joins
from tests.test_config_and_cli import run_bot
from tests.test_contact_log import add_client

sqlite_only = pytest.mark.skipif(
    bool(POSTGRES_URL),
    reason="the backup command copies SQLite files; PostgreSQL is backed up with pg_dump",
)


def backup(monkeypatch: pytest.MonkeyPatch, database_url: str, *args: str) -> int:
    """`python -m bot backup ...` in this process, with the bot's own settings."""
    monkeypatch.chdir(Path(database_url.split(":///", 1)[1]).parent)  # no .env there
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", database_url)
    return main(["backup", *args])


async def names_in(path: Path) -> list[str]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with create_session_factory(engine)() as session:
            return list(await session.scalars(select(Client.name).order_by(Client.name)))
    finally:
        await engine.dispose()


@sqlite_only
async def test_backup_while_the_bot_runs_then_restore(
    fake, bot, db, database_url, tmp_path, monkeypatch, capsys
):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    await add_client(db, admin, "Acme")
    await add_client(db, admin, "Ромашка")

    # A writer is in the middle of a transaction: the backup neither waits for it nor takes
    # its half-done work.
    live = Path(database_url.split(":///", 1)[1])
    writer = sqlite3.connect(live, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO departments (name, kind, archived, created_at) "
        "VALUES ('Half-done', 'sales', 0, '2026-01-01 00:00:00')"
    )
    target = tmp_path / "backups" / "crm.sqlite3"
    assert backup(monkeypatch, database_url, str(target)) == 0
    writer.execute("ROLLBACK")
    writer.close()
    out = capsys.readouterr().out
    assert f"Backup written: {target}" in out

    # The backup is one self-contained file (no -wal beside it) that passes an integrity check.
    assert not (tmp_path / "backups" / "crm.sqlite3-wal").exists()
    with sqlite3.connect(target) as check:
        assert check.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    # The bot keeps working; what comes after the backup is not in it.
    reply = await admin.tap("❓ Help")
    assert "FieldCRM" in reply.text
    await add_client(db, admin, "After the backup")

    # Restore: with the bot stopped, the file is copied back in place of the database.
    await bot.stop()
    restored = tmp_path / "restored" / "fieldcrm.sqlite3"
    restored.parent.mkdir()
    shutil.copy(target, restored)
    assert await names_in(restored) == ["Acme", "Ромашка"]
    engine = create_engine(f"sqlite+aiosqlite:///{restored}")
    async with create_session_factory(engine)() as session:
        departments = list(await session.scalars(select(Department.name)))
        olga = await session.scalar(select(User).where(User.telegram_id == admin.id))
        session.add(
            Client(
                name="New", name_key="new", search_text="new", kind=ClientKind.COMPANY, owner=olga
            )
        )
        await session.commit()  # the restored database takes writes again
    await engine.dispose()
    assert departments == ["Sales"]


@sqlite_only
async def test_a_folder_gets_a_dated_file_and_nothing_is_overwritten(
    db, database_url, tmp_path, monkeypatch, capsys
):
    folder = tmp_path / "backups"
    folder.mkdir()
    assert backup(monkeypatch, database_url, str(folder)) == 0
    (made,) = folder.iterdir()
    assert made.name.startswith("fieldcrm-") and made.suffix == ".sqlite3"

    assert backup(monkeypatch, database_url, str(made)) == 1
    assert "already exists" in capsys.readouterr().err
    assert backup(monkeypatch, database_url, str(made), "--force") == 0
    assert [p.name for p in folder.iterdir()] == [made.name]  # no .partial left behind

    live = database_url.split(":///", 1)[1]
    assert backup(monkeypatch, database_url, live, "--force") == 1
    assert "the database itself" in capsys.readouterr().err


def test_missing_or_in_memory_sqlite_is_a_clear_refusal(tmp_path):
    code, text = run(f"sqlite+aiosqlite:///{tmp_path}/nope.sqlite3", str(tmp_path / "b"))
    assert code == 1 and "does not exist" in text
    code, text = run("sqlite+aiosqlite:///:memory:", str(tmp_path / "b"))
    assert code == 1 and "in-memory" in text


def test_postgresql_is_told_how_to_use_pg_dump_and_exits_non_zero(tmp_path):
    url = "postgresql+asyncpg://crm:s3cret@db.local:5432/fieldcrm"
    result = run_bot(tmp_path, {"BOT_TOKEN": "123:abc", "DATABASE_URL": url}, "backup", "crm.dump")
    assert result.returncode == 1
    assert "pg_dump --format=custom --file=crm.dump postgresql://crm@db.local:5432/fieldcrm" in (
        result.stderr
    )
    assert "pg_restore" in result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
