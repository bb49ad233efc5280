"""`python -m bot [run|migrate|invite|backup]`: the one entry point of FieldCRM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys

from bot.config import Settings, SettingsError, load_settings
from bot.logs import install_redaction

log = logging.getLogger("bot")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="FieldCRM Telegram bot")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="apply migrations and start polling (the default)")
    commands.add_parser("migrate", help="apply database migrations and exit")
    invite = commands.add_parser("invite", help="print a one-time invite link")
    invite.add_argument("--role", choices=["admin", "head", "manager"], default="admin")
    invite.add_argument("--department", help="department name (created if missing)")
    invite.add_argument("--days", type=int, default=None, help="days the link works")
    backup = commands.add_parser(
        "backup", help="copy the SQLite database while the bot runs (PostgreSQL: says how)"
    )
    backup.add_argument("path", help="the backup file, or a folder for a dated file")
    backup.add_argument("--force", action="store_true", help="replace an existing file")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_redaction(settings.bot_token.get_secret_value())  # before anything is logged
    if args.command == "backup":  # never migrates: a backup copies the database as it is
        from bot.backup import run as run_backup

        code, text = run_backup(settings.database_url, args.path, force=args.force)
        print(text, file=sys.stderr if code else sys.stdout)
        return code
    from db.migrate import upgrade

    if args.command == "migrate":
        upgrade(settings.database_url)
        return 0
    if args.command == "invite":
        upgrade(settings.database_url)
        from bot.cli import print_invite

        return asyncio.run(print_invite(settings, args.role, args.department, args.days))
    # Migrated by a child process: Alembic stays out of the long-running bot's memory.
    migrated = subprocess.run([sys.executable, "-m", "bot", "migrate"], check=False)
    if migrated.returncode != 0:
        return migrated.returncode
    return asyncio.run(run(settings))


async def run(settings: Settings) -> int:
    from bot.app import create_bot, create_dispatcher
    from db.session import create_engine, create_session_factory

    engine = create_engine(settings.database_url)
    bot = create_bot(settings)
    dispatcher = create_dispatcher(settings, create_session_factory(engine))
    try:
        if settings.webhook_url:
            from bot.webhook import serve

            await serve(dispatcher, bot, settings)
        else:  # one process polls: a webhook left by a webhook-mode run would refuse it
            await bot.delete_webhook(drop_pending_updates=False)
            await dispatcher.start_polling(bot)
    finally:
        await dispatcher.storage.close()
        await bot.session.close()
        await engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
