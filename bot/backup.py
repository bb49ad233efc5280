"""`python -m bot backup PATH`: a consistent copy of the database, taken while the bot runs.

SQLite: sqlite3's online backup API copies a snapshot of the database (the WAL included) page by
page under a read lock; in WAL mode writers are not blocked, so the bot keeps working. The copy
is written next to PATH, checked with `PRAGMA quick_check`, switched to a plain rollback
journal (one self-contained file) and only then renamed to PATH: a failed backup never leaves a
half-written file behind. PostgreSQL has its own tools: we say which and stop.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

BUSY_TIMEOUT = 30  # seconds to wait for a writer holding the lock (same as the bot's)


class BackupError(Exception):
    """A backup that cannot be made; the message says why and what to do."""


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a SQLite URL (relative to the working directory, as for the bot);
    None for any other database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise BackupError("DATABASE_URL is an in-memory SQLite database: there is no file to copy.")
    return Path(url.database)


def postgres_advice(database_url: str, target: str) -> str:
    """How to back up (and restore) a PostgreSQL database; the password is never printed."""
    given = make_url(database_url)
    url = URL.create(
        "postgresql",
        username=given.username,
        host=given.host,
        port=given.port,
        database=given.database,
        query=given.query,
    )
    plain = shlex.quote(url.render_as_string(hide_password=False))
    file = shlex.quote(target)
    return (
        "DATABASE_URL points at PostgreSQL: back it up with PostgreSQL's own tools "
        "(the password from PGPASSWORD or ~/.pgpass):\n"
        f"  pg_dump --format=custom --file={file} {plain}\n"
        "and restore into an empty database, with the bot stopped:\n"
        f"  pg_restore --clean --if-exists --no-owner --dbname={plain} {file}"
    )


def default_name(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"fieldcrm-{moment}.sqlite3"


def backup_sqlite(source: Path, target: Path, *, force: bool = False) -> Path:
    """Copies the live database `source` to `target` (a file, or a folder to put a dated file
    in); returns the file written."""
    if not source.is_file():
        raise BackupError(f"The database file {source} does not exist.")
    if target.is_dir():
        target = target / default_name()
    if target.exists():
        if target.resolve() == source.resolve():
            raise BackupError("The backup path is the database itself: choose another path.")
        if not force:
            raise BackupError(f"{target} already exists: choose another path or add --force.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    live = sqlite3.connect(source, timeout=BUSY_TIMEOUT)
    try:
        copy = sqlite3.connect(partial)
        try:
            live.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
            (verdict,) = copy.execute("PRAGMA quick_check").fetchone()
        finally:
            copy.close()
        if verdict != "ok":
            raise BackupError(f"The copy failed its integrity check ({verdict}); nothing written.")
        os.replace(partial, target)
    except sqlite3.Error as error:
        raise BackupError(f"SQLite could not copy {source}: {error}") from error
    finally:
        live.close()
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return target


def run(database_url: str, target: str, *, force: bool = False) -> tuple[int, str]:
    """The exit code and the one message `python -m bot backup` prints."""
    try:
        source = sqlite_file(database_url)
        if source is None:
            return 1, postgres_advice(database_url, target)
        written = backup_sqlite(source, Path(target), force=force)
    except BackupError as error:
        return 1, f"Backup failed: {error}"
    size = written.stat().st_size
    return 0, f"Backup written: {written} ({size:,} bytes)"
