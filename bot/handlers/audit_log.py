"""📜 Audit log (admins): who did what to which object, newest first, in the admin's time zone,
filtered by person and by action; 📤 exports it with the same filters."""

from __future__ import annotations

import json
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import AuditLogCb, AuditLogView
from bot.keyboards.exports import (
    audit_actions_keyboard,
    audit_keyboard,
    audit_users_keyboard,
    kind_label,
)
from bot.services import audit_log
from bot.services.access import require_role
from bot.services.audit_log import AuditFilter, AuditPage
from bot.services.exports import ExportKind
from bot.texts import shorten
from db.models import AuditEntry, Role, User

handlers = Handlers("audit_log")

NAME_MAX = 60
DETAILS_MAX = 200


def action_label(action: str) -> str:
    labels = {
        "bootstrap_admin": _("first admin"),
        "invite_created": _("invite created"),
        "invite_redeemed": _("invite used"),
        "role_changed": _("role changed"),
        "user_deactivated": _("access turned off"),
        "user_reactivated": _("access restored"),
        "client_reassigned": _("client reassigned"),
        "department_added": _("department added"),
        "department_renamed": _("department renamed"),
        "department_archived": _("department archived"),
        "department_restored": _("department restored"),
        "reference_added": _("list item added"),
        "reference_renamed": _("list item renamed"),
        "reference_archived": _("list item archived"),
        "reference_restored": _("list item restored"),
        "setting_changed": _("setting changed"),
        "plan_set": _("plan set"),
        "work_handed_over": _("work handed over"),
        "client_erased": _("client erased"),
        "import": _("import"),
        "exported": _("export"),
        "export_limit_hit": _("export limit reached"),
        "limit_hit": _("limit reached"),
    }
    return labels.get(action) or action.replace("_", " ")


def object_label(object_type: str) -> str:
    if object_type in set(ExportKind):
        return kind_label(ExportKind(object_type))
    labels = {
        "user": _("user"),
        "client": _("client"),
        "department": _("department"),
        "invite": _("invite"),
        "reference_item": _("list item"),
        "app_setting": _("setting"),
    }
    return labels.get(object_type) or object_type.replace("_", " ")


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def entry_text(entry: AuditEntry, page: AuditPage, zone: ZoneInfo) -> str:
    when = entry.created_at.astimezone(zone)
    if entry.actor_id is None:
        who = _("the system")
    else:
        who = page.people.get(entry.actor_id) or f"#{entry.actor_id}"
    what = escape(action_label(entry.action)) + " · " + escape(object_label(entry.object_type))
    if entry.object_id is not None:
        name = page.objects.get((entry.object_type, entry.object_id))
        what += f" #{entry.object_id}"
        if name:
            what += f" {escape(shorten(name, NAME_MAX))}"
    lines = [f"<b>{when:%d.%m.%Y %H:%M}</b> · {escape(shorten(who, NAME_MAX))}", what]
    if entry.details:
        details = ", ".join(f"{key}: {_value(value)}" for key, value in entry.details.items())
        lines.append(f"<i>{escape(shorten(details, DETAILS_MAX))}</i>")
    return "\n".join(lines)


async def _filter_labels(session: AsyncSession, user: User, flt: AuditFilter) -> tuple[str, str]:
    person = _("everyone")
    if flt.user_id is not None:
        name = await audit_log.person_name(session, user, flt.user_id)
        person = shorten(name or f"#{flt.user_id}", NAME_MAX)
    action = action_label(flt.action) if flt.action is not None else _("any action")
    return person, action


def _filter_of(data: AuditLogCb) -> AuditFilter:
    return AuditFilter(data.user or None, data.act or None)


async def audit_screen(
    session: AsyncSession, user: User, flt: AuditFilter, number: int
) -> tuple[str, InlineKeyboardMarkup]:
    page = await audit_log.page(session, user, flt, number)
    person, action = await _filter_labels(session, user, flt)
    parts = [
        _(
            "<b>📜 Audit log</b>, newest first. Entries: {count}. Who: {person}; what: {action}."
        ).format(count=page.total, person=escape(person), action=escape(action))
    ]
    zone = ZoneInfo(user.timezone)
    parts.extend(entry_text(entry, page, zone) for entry in page.entries)
    if not page.entries:
        parts.append(_("No entries."))
    keyboard = audit_keyboard(flt, page.page, page.total, person, action)
    return "\n\n".join(parts), keyboard


@handlers.message(Command("audit"))
async def audit_command(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    require_role(user, Role.ADMIN)
    await state.clear()
    text, keyboard = await audit_screen(session, user, AuditFilter(), 0)
    await message.answer(text, reply_markup=keyboard)


@handlers.callback_query(AuditLogCb.filter(F.view == AuditLogView.PAGE))
async def audit_page(
    query: CallbackQuery,
    callback_data: AuditLogCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    text, keyboard = await audit_screen(
        session, user, _filter_of(callback_data), callback_data.page
    )
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=keyboard)


@handlers.callback_query(AuditLogCb.filter(F.view == AuditLogView.USERS))
async def audit_people(
    query: CallbackQuery, callback_data: AuditLogCb, session: AsyncSession, user: User
) -> None:
    people, total = await audit_log.actors(session, user, callback_data.page)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("<b>📜 Audit log</b>: whose entries?"),
            reply_markup=audit_users_keyboard(
                _filter_of(callback_data), people, callback_data.page, total
            ),
        )


@handlers.callback_query(AuditLogCb.filter(F.view == AuditLogView.ACTIONS))
async def audit_actions(
    query: CallbackQuery, callback_data: AuditLogCb, session: AsyncSession, user: User
) -> None:
    actions = await audit_log.actions(session, user)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("<b>📜 Audit log</b>: which action?"),
            reply_markup=audit_actions_keyboard(
                _filter_of(callback_data), [(action, action_label(action)) for action in actions]
            ),
        )
