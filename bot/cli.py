"""Command-line helpers for operators (installs without ADMIN_IDS)."""

from __future__ import annotations

from aiogram.exceptions import TelegramAPIError
from aiohttp import ClientError

from bot.app import create_bot
from bot.config import Settings
from bot.services import invites
from db.models import Department, DepartmentKind, Role
from db.repositories import DepartmentRepository
from db.session import create_engine, create_session_factory


async def bot_username(settings: Settings) -> str:
    if settings.bot_username:
        return settings.bot_username
    bot = create_bot(settings)
    try:
        me = await bot.get_me()
    finally:
        await bot.session.close()
    return me.username or ""


async def print_invite(
    settings: Settings, role: str, department_name: str | None, days: int | None
) -> int:
    try:
        username = await bot_username(settings)
    except (TelegramAPIError, ClientError, OSError) as error:
        print(f"Cannot ask Telegram for the bot's username ({error}); set BOT_USERNAME.")
        return 1
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            department_id = None
            if department_name:
                wanted = department_name.strip().casefold()
                found = [
                    d
                    for d in await DepartmentRepository(session).list()
                    if d.name.casefold() == wanted
                ]
                department = found[0] if found else None
                if department is None:
                    department = Department(name=department_name.strip(), kind=DepartmentKind.SALES)
                    session.add(department)
                    await session.flush()
                department_id = department.id
            invite = await invites.create_invite(
                session, None, Role(role), department_id, days or settings.invite_ttl_days
            )
    finally:
        await engine.dispose()
    print(invites.deep_link(username, invite.code))
    return 0
