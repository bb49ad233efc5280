"""Single-use invites: the only way in besides ADMIN_IDS."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.access import can_invite, require_staff_manager
from bot.services.audit import AuditAction
from bot.services.errors import N_, AccessDenied, DomainError, InvalidInput, NotFound
from bot.services.surveys import TOKEN_PREFIX as CLIENT_LINK_PREFIX
from bot.services.users import NAME_MAX, TelegramProfile
from db.models import Department, Invite, Role, User
from db.repositories import AuditRepository, DepartmentRepository, InviteRepository
from db.types import utcnow

INVITE_TTL_CHOICES = (1, 7, 30)


class InviteRefused(DomainError):
    message = N_("This invite link doesn't work.")


UNKNOWN = N_("This invite link is unknown. Ask your head or admin for a new one.")
USED = N_("This invite link has already been used. Ask your head or admin for a new one.")
EXPIRED = N_("This invite link has expired. Ask your head or admin for a new one.")


def new_code() -> str:
    """16 random bytes → 22 URL-safe characters: unguessable and well within the 64 allowed.
    Never starting with the client links' prefix: the bot would take the invite for a client's
    survey link and refuse it (one invite in 4,096 did)."""
    while (code := secrets.token_urlsafe(16)).startswith(CLIENT_LINK_PREFIX):
        pass
    return code


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


async def invitable_departments(session: AsyncSession, actor: User) -> list[Department]:
    require_staff_manager(actor)
    departments = await DepartmentRepository(session).list()
    if actor.role is Role.ADMIN:
        return list(departments)
    return [d for d in departments if d.id == actor.department_id]


async def create_invite(
    session: AsyncSession,
    actor: User | None,
    role: Role,
    department_id: int | None,
    ttl_days: int,
) -> Invite:
    """actor None means the command line (an operator bootstrapping an install)."""
    if actor is not None:
        require_staff_manager(actor)
        if not can_invite(actor, role, department_id):
            raise AccessDenied()
    if not 1 <= ttl_days <= 365:
        raise InvalidInput()
    if department_id is not None:
        department = await DepartmentRepository(session).get(department_id)
        if department is None or department.archived:
            raise NotFound()
    elif role is not Role.ADMIN:
        raise InvalidInput(N_("Managers and heads need a department."))
    invite = Invite(
        code=new_code(),
        role=role,
        department_id=department_id,
        created_by_id=actor.id if actor else None,
        expires_at=utcnow() + timedelta(days=ttl_days),
    )
    session.add(invite)
    await session.flush()
    AuditRepository(session).record(
        actor.id if actor else None,
        AuditAction.INVITE_CREATED,
        "invite",
        invite.id,
        role=role,
        department_id=department_id,
    )
    await session.commit()
    await session.refresh(invite, ["department"])
    return invite


async def redeem(
    session: AsyncSession, settings: Settings, code: str, profile: TelegramProfile
) -> User:
    """Registers the Telegram user with the invite's role; refuses unknown, used, expired codes."""
    repo = InviteRepository(session)
    invite = await repo.by_code(code[:64])
    now = utcnow()
    if invite is None:
        raise InviteRefused(UNKNOWN)
    if invite.used_by_id is not None:
        raise InviteRefused(USED)
    if invite.expires_at <= now:
        raise InviteRefused(EXPIRED)
    user = User(
        telegram_id=profile.telegram_id,
        full_name=profile.full_name[:NAME_MAX],
        username=profile.username,
        role=invite.role,
        department_id=invite.department_id,
        locale=profile.locale,
        timezone=settings.default_timezone,
    )
    session.add(user)
    await session.flush()
    if not await repo.mark_used(invite.id, user.id, now):
        await session.rollback()
        raise InviteRefused(USED)
    AuditRepository(session).record(user.id, AuditAction.INVITE_REDEEMED, "invite", invite.id)
    await session.commit()
    await session.refresh(user, ["department"])
    return user
