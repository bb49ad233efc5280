"""Registration, the team list, roles and personal settings."""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SUPPORTED_LOCALES, Settings
from bot.services import offboarding
from bot.services.access import can_manage, require_role, require_staff_manager, visible_users
from bot.services.audit import AuditAction
from bot.services.errors import N_, AccessDenied, InvalidInput, NotFound
from db.models import Role, User
from db.repositories import AuditRepository, UserRepository

NAME_MAX = 200
TEAM_PAGE_SIZE = 8


@dataclass(frozen=True)
class TelegramProfile:
    """What Telegram tells us about a person; handlers build it from aiogram's User."""

    telegram_id: int
    full_name: str
    username: str | None
    locale: str


async def bootstrap_admin(
    session: AsyncSession, settings: Settings, profile: TelegramProfile, existing: User | None
) -> User | None:
    """Makes a Telegram id from ADMIN_IDS an active admin; None for anyone else."""
    if profile.telegram_id not in settings.admin_ids:
        return None
    if existing is not None and existing.role is Role.ADMIN and existing.is_active:
        return existing
    user = existing or User(
        telegram_id=profile.telegram_id,
        full_name=profile.full_name[:NAME_MAX],
        username=profile.username,
        locale=profile.locale,
        timezone=settings.default_timezone,
    )
    user.role = Role.ADMIN
    user.is_active = True
    session.add(user)
    await session.flush()
    AuditRepository(session).record(user.id, AuditAction.BOOTSTRAP_ADMIN, "user", user.id)
    await session.commit()
    await session.refresh(user, ["department"])
    return user


async def team_page(session: AsyncSession, actor: User, page: int) -> tuple[Sequence[User], int]:
    require_staff_manager(actor)
    page = max(page, 0)
    return await UserRepository(session).page(
        visible_users(actor), page * TEAM_PAGE_SIZE, TEAM_PAGE_SIZE
    )


async def get_visible(session: AsyncSession, actor: User, user_id: int) -> User:
    target = await UserRepository(session).get(user_id, visible_users(actor))
    if target is None:
        raise NotFound()
    return target


async def set_active(session: AsyncSession, actor: User, user_id: int, active: bool) -> User:
    """Reactivates, or deactivates someone with nothing to hand over (else HandoverNeeded:
    bot/services/offboarding.py moves their work and turns them off in one step)."""
    if not active:
        return await offboarding.deactivate(session, actor, user_id)
    require_staff_manager(actor)
    target = await get_visible(session, actor, user_id)
    if not can_manage(actor, target):
        raise AccessDenied()
    if target.is_active != active:
        target.is_active = active
        action = AuditAction.USER_REACTIVATED if active else AuditAction.USER_DEACTIVATED
        AuditRepository(session).record(actor.id, action, "user", target.id)
        await session.commit()
    return target


async def change_role(session: AsyncSession, actor: User, user_id: int, role: Role) -> User:
    require_role(actor, Role.ADMIN)
    target = await get_visible(session, actor, user_id)
    if target.id == actor.id:
        raise AccessDenied(N_("You can't change your own role."))
    if role is not Role.ADMIN and target.department_id is None:
        raise InvalidInput(N_("Managers and heads need a department; this user has none."))
    if target.role is not role:
        AuditRepository(session).record(
            actor.id, AuditAction.ROLE_CHANGED, "user", target.id, old=target.role, new=role
        )
        target.role = role
        await session.commit()
    return target


async def set_locale(session: AsyncSession, user: User, locale: str) -> User:
    if locale not in SUPPORTED_LOCALES:
        raise InvalidInput()
    user.locale = locale
    await session.commit()
    return user


def normalize_timezone(name: str) -> str:
    """An IANA zone name as typed ("europe/samara", "Asia/Yekaterinburg ") → its canonical form."""
    cleaned = name.strip().replace(" ", "_")
    if "/" not in cleaned or len(cleaned) > 64:
        raise InvalidInput(N_("Unknown time zone. Send a name like Europe/Moscow or Asia/Omsk."))
    wanted = cleaned.casefold()
    for zone in zoneinfo.available_timezones():
        if zone.casefold() == wanted:
            return zone
    raise InvalidInput(N_("Unknown time zone. Send a name like Europe/Moscow or Asia/Omsk."))


async def set_timezone(session: AsyncSession, user: User, name: str) -> User:
    user.timezone = normalize_timezone(name)
    await session.commit()
    return user


async def set_agenda_time(session: AsyncSession, user: User, value: str) -> User:
    """ "0830" → 08:30 local; "off" turns the morning agenda off."""
    if value == "off":
        user.agenda_time = None
    else:
        if len(value) != 4 or not value.isdigit():
            raise InvalidInput()
        hours, minutes = int(value[:2]), int(value[2:])
        if hours > 23 or minutes > 59:
            raise InvalidInput()
        user.agenda_time = f"{hours:02d}:{minutes:02d}"
    await session.commit()
    return user
