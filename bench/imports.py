"""`python -m bench.imports [--quick] [--postgres URL] [--rounds N]`: importing 10,000 clients.

Generates a 10,000-row client table as CSV (UTF-8, ";") and as XLSX, with a realistic share of
trouble (bad phones, unknown regions, duplicates of clients already in the base and within
the file), and times it through the service the bot uses (bot/services/imports.py), not
through Telegram: the preview (read + validate + duplicate check against the base) and the
import (all of that again + the insert in one transaction + the audit entry). The base holds
50,000 clients beforehand (5,000 with --quick). After each import the new rows are deleted,
so every round starts alike. Figures are medians of the rounds, in seconds.
Target: an import of 10,000 rows under 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import imports, parsing
from bot.services.audit import AuditAction
from db.migrate import upgrade
from db.models import AuditEntry, Client, ReferenceItem, ReferenceKind, Role, User
from db.session import create_engine, create_session_factory

ROWS = 10_000
TARGET_SECONDS = 30.0
MANAGERS = 20
REGIONS = ("Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург", "Казань", "Самара")
INDUSTRIES = ("Розница", "Производство", "Логистика", "IT", "Строительство", "Медицина")
WORDS = "Ромашка Берёзка Восток Север Урал Волга Альфа Вектор Титан Орион Acme Nova Terra".split()
MAX_BYTES = 20 * 1024 * 1024
HEADERS = ["Название", "Телефон", "Email", "ИНН", "Регион", "Отрасль", "Менеджер", "Примечание"]


def inn(rng: random.Random) -> str:
    digits = [rng.randint(0, 9) for _ in range(9)]
    weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
    check = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11 % 10
    return "".join(map(str, digits)) + str(check)


def base_name(n: int) -> str:
    return f"ООО «{WORDS[n % len(WORDS)]} база {n}»"


def table(rng: random.Random, base_size: int) -> list[list[str]]:
    """HEADERS, then ROWS rows: ~1% each of bad phones, unknown regions, duplicates of the
    base and duplicates within the file; owners by name, @username, or none (the admin)."""
    rows = [HEADERS]
    for n in range(ROWS):
        name = f"{rng.choice(['ООО', 'АО', 'ИП', ''])} {WORDS[n % len(WORDS)]} импорт {n}".strip()
        phone = f"8 (9{n % 100:02d}) {n // 100:03d}-{rng.randint(0, 99):02d}-{n % 97:02d}"
        region = rng.choice(REGIONS).lower() if rng.random() < 0.8 else ""
        owner = rng.choice([f"Manager {rng.randrange(MANAGERS)}", f"@manager{rng.randrange(20)}"])
        trouble = n % 100
        if trouble == 1:
            phone = "позвонить позже"
        elif trouble == 2:
            region = "Марс"
        elif trouble == 3:
            name = base_name(rng.randrange(base_size))
        elif trouble == 4 and n > 10:
            name = rows[-5][0]
        elif trouble == 5:
            owner = ""
        rows.append(
            [
                name,
                phone,
                f"client{n}@example.com" if rng.random() < 0.7 else "",
                inn(rng) if rng.random() < 0.6 else "",
                region,
                rng.choice(INDUSTRIES) if rng.random() < 0.5 else "",
                owner,
                "Импортирован из старой CRM" if rng.random() < 0.3 else "",
            ]
        )
    return rows


def as_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def as_xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def fill(sessions: async_sessionmaker[AsyncSession], base_size: int) -> None:
    rng = random.Random(1)
    async with sessions() as session:
        session.add(
            User(
                telegram_id=1,
                full_name="Admin",
                role=Role.ADMIN,
                locale="en",
                timezone="Europe/Moscow",
            )
        )
        for m in range(MANAGERS):
            session.add(
                User(
                    telegram_id=1000 + m,
                    full_name=f"Manager {m}",
                    username=f"manager{m}",
                    role=Role.MANAGER,
                    locale="en",
                    timezone="Europe/Moscow",
                )
            )
        for name in REGIONS:
            session.add(ReferenceItem(kind=ReferenceKind.REGION, name=name))
        for name in INDUSTRIES:
            session.add(ReferenceItem(kind=ReferenceKind.INDUSTRY, name=name))
        await session.commit()
        owners = list(await session.scalars(select(User.id).where(User.role == Role.MANAGER)))
        rows = []
        for n in range(base_size):
            name = base_name(n)
            phone = f"+7495{n:07d}"
            rows.append(
                {
                    "name": name,
                    "name_key": parsing.normalize_name(name),
                    "search_text": parsing.search_key(name),
                    "kind": "company",
                    "status": "active",
                    "phone": phone,
                    "phone_digits": phone[1:],
                    "email": f"base{n}@example.com",
                    "inn": inn(rng),
                    "owner_id": owners[n % len(owners)],
                }
            )
        await session.execute(insert(Client), rows)
        await session.commit()
        analyze = "ANALYZE" if session.bind.dialect.name == "sqlite" else "ANALYZE clients"
        await session.execute(text(analyze))
        await session.commit()


async def timed(
    sessions: async_sessionmaker[AsyncSession],
    rounds: int,
    call: Callable[[AsyncSession, User, int], Awaitable[object]],
    reset: bool,
) -> tuple[list[float], object]:
    times, outcome = [], None
    for i in range(rounds):
        async with sessions() as session:
            admin = await session.scalar(select(User).where(User.role == Role.ADMIN))
            assert admin is not None
            await session.commit()
            started = time.perf_counter()
            outcome = await call(session, admin, i)
            times.append(time.perf_counter() - started)
            await session.rollback()
            if reset:
                await session.execute(delete(Client).where(Client.created_by_id == admin.id))
                await session.execute(
                    delete(AuditEntry).where(AuditEntry.action == AuditAction.IMPORT.value)
                )
                await session.commit()
    return times, outcome


def calls(data: bytes, name: str):
    """The preview and the import of one file, as `timed` calls them."""

    async def preview(session: AsyncSession, admin: User, i: int) -> object:
        return await imports.preview(session, admin, data, name, max_bytes=MAX_BYTES)

    async def run_import(session: AsyncSession, admin: User, i: int) -> object:
        return await imports.import_clients(
            session,
            admin,
            data,
            name,
            max_bytes=MAX_BYTES,
            mapping=None,
            expected_sha256=imports.sha256(data),
            token=f"bench-{i}",
        )

    return preview, run_import


async def measure(url: str, database: str, files: dict[str, bytes], rounds: int) -> list[str]:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    lines = []
    for kind, data in files.items():
        preview, run_import = calls(data, f"clients.{kind}")
        times, checked = await timed(sessions, rounds, preview, reset=False)
        assert isinstance(checked, imports.Preview)
        lines.append(row(f"{kind}: preview (read + check)", database, times))
        times, result = await timed(sessions, rounds, run_import, reset=True)
        assert isinstance(result, imports.ImportResult)
        lines.append(row(f"{kind}: import (+ insert, commit)", database, times))
        lines.append(
            f"    {kind}: {result.total:,} rows → {result.imported:,} imported, "
            f"{result.bad} with errors, {result.duplicates} duplicates"
        )
    await engine.dispose()
    return lines


def row(name: str, database: str, times: list[float]) -> str:
    median = statistics.median(times)
    verdict = "ok" if median < TARGET_SECONDS else "SLOW"
    return f"{name:<34} {database:<10} {len(times):>3} {median:>8.2f} s  {verdict}"


async def run(args: argparse.Namespace) -> None:
    base_size = 5_000 if args.quick else 50_000
    rounds = args.rounds or (2 if args.quick else 5)
    rng = random.Random(42)
    rows = table(rng, base_size)
    files = {"csv": as_csv(rows), "xlsx": as_xlsx(rows)}
    print(
        f"{ROWS:,} rows: CSV {len(files['csv']) / 1e6:.1f} MB, "
        f"XLSX {len(files['xlsx']) / 1e6:.1f} MB; {base_size:,} clients in the base"
    )
    lines = []
    with tempfile.TemporaryDirectory() as folder:
        targets = [(f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}", "sqlite")]
        if args.postgres:
            targets.append((args.postgres, "postgresql"))
        for url, database in targets:
            if database == "postgresql":
                engine = create_engine(url)
                async with engine.begin() as connection:
                    await connection.execute(text("DROP SCHEMA public CASCADE"))
                    await connection.execute(text("CREATE SCHEMA public"))
                await engine.dispose()
            await asyncio.to_thread(upgrade, url)
            engine = create_engine(url)
            await fill(create_session_factory(engine), base_size)
            await engine.dispose()
            lines += await measure(url, database, files, rounds)
    print(f"\n{'scenario':<34} {'database':<10} {'n':>3} {'median':>8}    target < 30 s")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.imports", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5,000 clients in the base, 2 rounds")
    parser.add_argument("--postgres", metavar="URL", help="also run on this PostgreSQL database")
    parser.add_argument("--rounds", type=int, help="runs of each measurement (median shown)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
