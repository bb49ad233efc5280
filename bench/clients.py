"""`python -m bench.clients [--quick] [--postgres URL]`: the client base at scale.

Fills a fresh database with 100,000 clients and 1,000,000 interactions (50 managers in 5
departments), then times what a manager does between visits, through the real services:
search by part of a name, by phone digits, the client card with its first history page, and
logging a contact. Each figure is per call, in a new session as the bot opens one per update.
Target: under 50 ms each at the median on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import clients, contact_log, parsing
from db.migrate import upgrade
from db.models import Client, Department, DepartmentKind, Interaction, InteractionKind, Role, User
from db.session import create_engine, create_session_factory

WORDS = (
    "Ромашка Берёзка Восток Север Сибирь Урал Волга Альфа Бета Гамма Дельта Омега Техно Агро "
    "Строй Мед Фарм Нефть Газ Лес Мир Дом Свет Вектор Прогресс Атлант Титан Орион Вега Zenith "
    "Acme Nova Terra Polar Delta Vertex Summit Apex Quantum Nord Green Blue Smart Prime Global"
).split()
FORMS = ("ООО", "АО", "ИП", "", "", "LLC")
MANAGERS = 50
DEPARTMENTS = 5
CHUNK = 20_000


def client_name(rng: random.Random, n: int) -> str:
    form = rng.choice(FORMS)
    core = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {n}"
    return f"{form} «{core}»" if form else core


async def fill(
    sessions: async_sessionmaker[AsyncSession], n_clients: int, n_interactions: int
) -> None:
    rng = random.Random(42)
    now = datetime.now(UTC)
    async with sessions() as session:
        for d in range(DEPARTMENTS):
            session.add(Department(name=f"Dept {d}", kind=DepartmentKind.SALES))
        await session.flush()
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
                    role=Role.MANAGER,
                    department_id=1 + m % DEPARTMENTS,
                    locale="en",
                    timezone="Europe/Moscow",
                )
            )
        await session.commit()
        manager_ids = list(await session.scalars(select(User.id).where(User.role == Role.MANAGER)))
        for start in range(0, n_clients, CHUNK):
            rows = []
            for n in range(start, min(start + CHUNK, n_clients)):
                name = client_name(rng, n)
                phone = f"+79{n:09d}"
                rows.append(
                    {
                        "name": name,
                        "name_key": parsing.normalize_name(name),
                        "search_text": parsing.search_key(name),
                        "kind": "company",
                        "status": "active",
                        "phone": phone,
                        "phone_digits": phone[1:],
                        "owner_id": manager_ids[n % MANAGERS],
                        "created_by_id": None,
                        "created_at": now - timedelta(days=400),
                        "updated_at": now,
                    }
                )
            await session.execute(insert(Client), rows)
            await session.commit()
        kinds = list(InteractionKind)
        for start in range(0, n_interactions, CHUNK):
            rows = []
            for _ in range(start, min(start + CHUNK, n_interactions)):
                client_id = rng.randint(1, n_clients)
                rows.append(
                    {
                        "client_id": client_id,
                        "author_id": manager_ids[(client_id - 1) % MANAGERS],
                        "kind": rng.choice(kinds).value,
                        "occurred_at": now - timedelta(minutes=rng.randint(1, 525_600)),
                        "summary": "Discussed the delivery schedule and the next order",
                        "created_at": now,
                    }
                )
            await session.execute(insert(Interaction), rows)
            await session.commit()
        latest = (
            select(func.max(Interaction.occurred_at))
            .where(Interaction.client_id == Client.id)
            .scalar_subquery()
        )
        await session.execute(update(Client).values(last_contact_at=latest))
        await session.commit()
        if session.bind.dialect.name == "sqlite":
            await session.execute(text("ANALYZE"))
        else:
            await session.execute(text("ANALYZE clients"))
            await session.execute(text("ANALYZE interactions"))
        await session.commit()


async def timed(
    sessions: async_sessionmaker[AsyncSession],
    rounds: int,
    call: Callable[[AsyncSession, int], Awaitable[object]],
) -> list[float]:
    times = []
    for i in range(rounds):
        async with sessions() as session:
            started = time.perf_counter()
            await call(session, i)
            times.append((time.perf_counter() - started) * 1000)
    return times


def row(name: str, database: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    median = statistics.median(times)
    return f"{name:<34} {database:<10} {len(times):>5} {median:>9.1f} {p95:>9.1f}  ms"


async def measure(url: str, database: str, n_clients: int, rounds: int) -> list[str]:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    rng = random.Random(7)
    async with sessions() as session:
        admin = await session.scalar(select(User).where(User.role == Role.ADMIN))
        manager = await session.scalar(select(User).where(User.telegram_id == 1000))
        own = list(await session.scalars(select(Client.id).where(Client.owner_id == manager.id)))
        names = list(await session.scalars(select(Client.name).limit(2000)))
    fragments = [parsing.search_key(n).split()[rng.randint(0, 1)][:5] for n in names]
    digits = [f"{rng.randint(0, n_clients - 1):09d}"[-6:] for _ in range(rounds)]

    async def search_name(actor: User, s: AsyncSession, i: int) -> object:
        return await clients.search(s, actor, fragments[i % len(fragments)])

    async def search_phone(actor: User, s: AsyncSession, i: int) -> object:
        return await clients.search(s, actor, digits[i])

    async def card(s: AsyncSession, i: int) -> object:
        client_id = own[i % len(own)]
        await clients.overview(s, manager, client_id)
        return await clients.history(s, manager, client_id, 0)

    async def log(s: AsyncSession, i: int) -> object:
        return await contact_log.log_interaction(
            s, manager, own[i % len(own)], InteractionKind.CALL, "Called about the invoice"
        )

    results = [
        row(
            "search by name (manager)",
            database,
            await timed(sessions, rounds, lambda s, i: search_name(manager, s, i)),
        ),
        row(
            "search by name (admin, all)",
            database,
            await timed(sessions, rounds, lambda s, i: search_name(admin, s, i)),
        ),
        row(
            "search by phone (manager)",
            database,
            await timed(sessions, rounds, lambda s, i: search_phone(manager, s, i)),
        ),
        row(
            "search by phone (admin, all)",
            database,
            await timed(sessions, rounds, lambda s, i: search_phone(admin, s, i)),
        ),
        row("client card + history page", database, await timed(sessions, rounds, card)),
        row("log contact", database, await timed(sessions, rounds, log)),
    ]
    await engine.dispose()
    return results


async def run(args: argparse.Namespace) -> None:
    n_clients, n_interactions = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    rounds = 50 if args.quick else 200
    targets: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        targets.append((f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}", "sqlite"))
        if args.postgres:
            targets.append((args.postgres, "postgresql"))
        lines = []
        for url, database in targets:
            if database == "postgresql":
                engine = create_engine(url)
                async with engine.begin() as connection:
                    await connection.execute(text("DROP SCHEMA public CASCADE"))
                    await connection.execute(text("CREATE SCHEMA public"))
                await engine.dispose()
            await asyncio.to_thread(upgrade, url)
            engine = create_engine(url)
            started = time.perf_counter()
            await fill(create_session_factory(engine), n_clients, n_interactions)
            await engine.dispose()
            print(
                f"{database}: {n_clients:,} clients and {n_interactions:,} interactions "
                f"loaded in {time.perf_counter() - started:.0f} s"
            )
            lines += await measure(url, database, n_clients, rounds)
    print(f"\n{'scenario':<34} {'database':<10} {'n':>5} {'median':>9} {'p95':>9}  unit")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.clients", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 clients, 100,000 contacts")
    parser.add_argument("--postgres", metavar="URL", help="also run on this PostgreSQL database")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
