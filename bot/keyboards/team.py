from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import ExportCb, OffboardAction, OffboardCb, TeamAction, TeamCb
from bot.keyboards.common import pager_row
from bot.services.access import can_manage
from bot.services.offboarding import CANDIDATES_PAGE
from bot.texts import role_label
from db.models import Role, User

ROLE_ICONS = {Role.MANAGER: "👤", Role.HEAD: "⭐", Role.ADMIN: "🛡"}


def team_keyboard(members: Sequence[User], page: int, total: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for member in members:
        mark = ROLE_ICONS[member.role] if member.is_active else "⛔"
        builder.button(
            text=f"{mark} {member.full_name}",
            callback_data=TeamCb(action=TeamAction.OPEN, user_id=member.id, page=page),
        )
    builder.adjust(1)
    builder.row(*pager_row(page, total, lambda p: TeamCb(action=TeamAction.PAGE, page=p).pack()))
    builder.row(
        InlineKeyboardButton(
            text=_("➕ Invite"), callback_data=TeamCb(action=TeamAction.INVITE).pack()
        ),
        InlineKeyboardButton(text=_("📤 Export"), callback_data=ExportCb().pack()),
    )
    return builder.as_markup()


def member_keyboard(actor: User, member: User, page: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    if can_manage(actor, member):
        action = TeamAction.DEACTIVATE if member.is_active else TeamAction.REACTIVATE
        label = _("⛔ Deactivate") if member.is_active else _("✅ Reactivate")
        builder.button(
            text=label, callback_data=TeamCb(action=action, user_id=member.id, page=page)
        )
    if actor.role is Role.ADMIN and actor.id != member.id:
        builder.button(
            text=_("🎭 Change role"),
            callback_data=TeamCb(action=TeamAction.ROLES, user_id=member.id, page=page),
        )
    builder.button(text=_("← Back"), callback_data=TeamCb(action=TeamAction.PAGE, page=page))
    builder.adjust(1)
    return builder.as_markup()


def roles_keyboard(member: User, page: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for role in Role:
        mark = "• " if role is member.role else ""
        builder.button(
            text=mark + role_label(role),
            callback_data=TeamCb(
                action=TeamAction.SET_ROLE, user_id=member.id, page=page, role=role
            ),
        )
    builder.button(
        text=_("← Back"), callback_data=TeamCb(action=TeamAction.OPEN, user_id=member.id, page=page)
    )
    builder.adjust(1)
    return builder.as_markup()


def handover_keyboard(
    target: User, people: Sequence[User], page: int, total: int
) -> InlineKeyboardMarkup:
    """Offboarding: who takes over `target`'s work (active people the actor may pick)."""
    builder = InlineKeyboardBuilder()
    for person in people:
        builder.button(
            text=f"{ROLE_ICONS[person.role]} {person.full_name}",
            callback_data=OffboardCb(
                action=OffboardAction.CONFIRM, user_id=target.id, to=person.id, page=page
            ),
        )
    builder.adjust(1)
    builder.row(
        *pager_row(
            page,
            total,
            lambda p: OffboardCb(action=OffboardAction.PICK, user_id=target.id, page=p).pack(),
            page_size=CANDIDATES_PAGE,
        )
    )
    builder.row(
        InlineKeyboardButton(
            text=_("← Back"),
            callback_data=TeamCb(action=TeamAction.OPEN, user_id=target.id).pack(),
        )
    )
    return builder.as_markup()


def handover_confirm_keyboard(target: User, successor: User, page: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("✅ Hand over and deactivate"),
        callback_data=OffboardCb(action=OffboardAction.DO, user_id=target.id, to=successor.id),
    )
    builder.button(
        text=_("← Back"),
        callback_data=OffboardCb(action=OffboardAction.PICK, user_id=target.id, page=page),
    )
    builder.adjust(1)
    return builder.as_markup()
