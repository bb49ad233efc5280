"""Apply Alembic migrations from code (the CLI, `make run` and the tests all come here).

Alembic is imported only when used: with Mako it weighs 8 MB, which the running bot (it
migrates in a child process, see bot/__main__.py) would otherwise carry for good."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def url_from_environment() -> str:
    """For the plain `alembic` CLI: DATABASE_URL, or the default SQLite file."""
    from bot.config import DEFAULT_SQLITE_PATH

    return os.environ.get("DATABASE_URL", f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}")
