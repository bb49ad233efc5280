"""`python -m bench [--quick] [--postgres URL]`: run the scenarios, print one table."""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from bench.harness import Database, Row
from bench.scenarios import SCENARIOS, Outcome, Size

FULL = Size(
    updates=200,
    burst_users=50,
    burst_messages=10,
    burst_repetitions=3,
    fsm_rounds=500,
    fsm_users=20,
    fsm_rounds_each=30,
)
QUICK = Size(
    updates=15,
    burst_users=50,
    burst_messages=10,
    burst_repetitions=1,
    fsm_rounds=60,
    fsm_users=20,
    fsm_rounds_each=4,
)
SCENARIO_TIMEOUT = 300.0
COLUMNS = ("scenario", "database", "n", "median", "p95", "unit")


def number(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def table(rows: list[Row]) -> str:
    cells = [COLUMNS] + [
        (r.scenario, r.database, str(r.n), number(r.median), number(r.p95), r.unit) for r in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    numeric = {2, 3, 4}
    lines = [
        "  ".join(
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes / KiB


async def bounded(scenario: Callable[[], Awaitable[Outcome]]) -> Outcome:
    async with asyncio.timeout(SCENARIO_TIMEOUT):
        return await scenario()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (~20 s)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run on PostgreSQL, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/bench "
        "(its schema public is DROPPED and migrated again)",
    )
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL

    rows: list[Row] = []
    notes: list[str] = []
    failures = 0
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fieldcrm-bench-") as workdir:
        databases = [Database("sqlite", workdir=Path(workdir))]
        if args.postgres:
            databases.append(
                Database("postgresql", workdir=Path(workdir), postgres_url=args.postgres)
            )
        for database in databases:
            for scenario in SCENARIOS:
                print(f"{database.name}: {scenario.__name__} ...", file=sys.stderr, flush=True)
                started = time.perf_counter()
                try:
                    url = database.fresh()
                    outcome = asyncio.run(bounded(partial(scenario, url, database.name, size)))
                except Exception as error:  # one broken scenario must not hide the others
                    failures += 1
                    notes.append(f"FAILED {database.name} {scenario.__name__}: {error!r}")
                    continue
                rows.extend(outcome.rows)
                notes.extend(outcome.notes)
                print(f"  {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)

    print(table(rows))
    print()
    for note in notes:
        print(note)
    print(f"peak RSS: {peak_rss_mib():.0f} MiB; wall time: {time.perf_counter() - began:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
