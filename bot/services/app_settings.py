"""Company-wide switches an admin flips in the bot, kept in `app_settings` (key → text).

A key with no row has its default, so a new switch needs no migration.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import require_role
from bot.services.audit import AuditAction
from db.models import AppSetting, Role, User
from db.repositories import AuditRepository

INLINE_FOR_MANAGERS = "inline_for_managers"

FLAG_DEFAULTS: dict[str, bool] = {INLINE_FOR_MANAGERS: True}

_ON, _OFF = "1", "0"


async def get_flag(session: AsyncSession, key: str) -> bool:
    setting = await session.get(AppSetting, key)
    if setting is None:
        return FLAG_DEFAULTS[key]
    return setting.value == _ON


async def set_flag(session: AsyncSession, actor: User, key: str, enabled: bool) -> bool:
    """Admins only; every change is audited with the old and the new value."""
    require_role(actor, Role.ADMIN)
    if key not in FLAG_DEFAULTS:
        raise KeyError(key)
    old = await get_flag(session, key)
    if old != enabled:
        setting = await session.get(AppSetting, key)
        if setting is None:
            session.add(AppSetting(key=key, value=_ON if enabled else _OFF))
        else:
            setting.value = _ON if enabled else _OFF
        AuditRepository(session).record(
            actor.id,
            AuditAction.SETTING_CHANGED,
            "app_setting",
            None,
            key=key,
            old=old,
            new=enabled,
        )
        await session.commit()
    return enabled


async def inline_for_managers(session: AsyncSession) -> bool:
    """Whether managers may share their clients with @bot inline queries (heads, admins always)."""
    return await get_flag(session, INLINE_FOR_MANAGERS)


async def set_inline_for_managers(session: AsyncSession, actor: User, enabled: bool) -> bool:
    return await set_flag(session, actor, INLINE_FOR_MANAGERS, enabled)
