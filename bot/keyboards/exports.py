"""Exports (what, period, format) and the audit log screen with its filters."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import (
    AuditLogCb,
    AuditLogView,
    CatalogAction,
    CatalogCb,
    ExportCb,
)
from bot.keyboards.common import cancel_button, pager_row
from bot.services.audit_log import PAGE_SIZE, PICKER_PAGE_SIZE, AuditFilter
from bot.services.exports import ExportFormat, ExportKind, ExportPeriod
from db.models import User

KIND_ICONS = {
    ExportKind.CLIENTS: "👤",
    ExportKind.DEALS: "💼",
    ExportKind.COMPLAINTS: "⚠️",
    ExportKind.INTERACTIONS: "📝",
    ExportKind.AUDIT: "📜",
}


def kind_label(kind: ExportKind) -> str:
    return {
        ExportKind.CLIENTS: _("Clients"),
        ExportKind.DEALS: _("Deals"),
        ExportKind.COMPLAINTS: _("Complaints"),
        ExportKind.INTERACTIONS: _("Contacts logged"),
        ExportKind.AUDIT: _("Audit log"),
    }[kind]


def period_label(period: ExportPeriod) -> str:
    return {
        ExportPeriod.THIS_MONTH: _("This month"),
        ExportPeriod.LAST_MONTH: _("Last month"),
        ExportPeriod.LAST_3_MONTHS: _("Last 3 months"),
        ExportPeriod.THIS_YEAR: _("This year"),
    }[period]


def kinds_keyboard(kinds: Sequence[ExportKind], back: CallbackData) -> InlineKeyboardMarkup:
    """What to export; Back goes to where the button lives (admin home, team screen)."""
    builder = InlineKeyboardBuilder()
    for kind in kinds:
        if kind is ExportKind.AUDIT:
            continue  # exported from the audit log screen, with its filters
        builder.button(
            text=f"{KIND_ICONS[kind]} {kind_label(kind)}", callback_data=ExportCb(kind=kind.value)
        )
    builder.adjust(2)
    builder.row(InlineKeyboardButton(text=_("← Back"), callback_data=back.pack()), cancel_button())
    return builder.as_markup()


def periods_keyboard(choice: ExportCb) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for period in ExportPeriod:
        builder.button(
            text=period_label(period),
            callback_data=choice.model_copy(update={"period": period.value}),
        )
    builder.adjust(2)
    back = (
        AuditLogCb(view=AuditLogView.PAGE, user=choice.user, act=choice.act).pack()
        if choice.kind == ExportKind.AUDIT
        else ExportCb().pack()
    )
    builder.row(InlineKeyboardButton(text=_("← Back"), callback_data=back), cancel_button())
    return builder.as_markup()


def formats_keyboard(choice: ExportCb) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for fmt, label in ((ExportFormat.XLSX, "📊 Excel (XLSX)"), (ExportFormat.CSV, "📄 CSV")):
        builder.button(text=label, callback_data=choice.model_copy(update={"fmt": fmt.value}))
    builder.adjust(2)
    back = choice.model_copy(update={"period": ""}).pack()
    builder.row(InlineKeyboardButton(text=_("← Back"), callback_data=back), cancel_button())
    return builder.as_markup()


# The audit log


def _log(flt: AuditFilter, page: int = 0) -> AuditLogCb:
    return AuditLogCb(
        view=AuditLogView.PAGE, page=page, user=flt.user_id or 0, act=flt.action or ""
    )


def audit_keyboard(
    flt: AuditFilter, page: int, total: int, user_label: str, action_label: str
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(*pager_row(page, total, lambda p: _log(flt, p).pack(), page_size=PAGE_SIZE))
    user, act = flt.user_id or 0, flt.action or ""
    builder.row(
        InlineKeyboardButton(
            text=f"👤 {user_label}",
            callback_data=AuditLogCb(view=AuditLogView.USERS, user=user, act=act).pack(),
        ),
        InlineKeyboardButton(
            text=f"🏷 {action_label}",
            callback_data=AuditLogCb(view=AuditLogView.ACTIONS, user=user, act=act).pack(),
        ),
    )
    builder.row(
        InlineKeyboardButton(
            text=_("📤 Export"),
            callback_data=ExportCb(kind=ExportKind.AUDIT.value, user=user, act=act).pack(),
        )
    )
    builder.row(
        InlineKeyboardButton(
            text=_("← Back"), callback_data=CatalogCb(action=CatalogAction.HOME).pack()
        )
    )
    return builder.as_markup()


def audit_users_keyboard(
    flt: AuditFilter, people: Sequence[User], page: int, total: int
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    act = flt.action or ""
    mark = "• " if flt.user_id is None else ""
    builder.button(
        text=mark + _("Everyone"), callback_data=AuditLogCb(view=AuditLogView.PAGE, act=act)
    )
    for person in people:
        mark = "• " if person.id == flt.user_id else ""
        builder.button(
            text=mark + person.full_name,
            callback_data=AuditLogCb(view=AuditLogView.PAGE, user=person.id, act=act),
        )
    builder.adjust(1)
    builder.row(
        *pager_row(
            page,
            total,
            lambda p: AuditLogCb(
                view=AuditLogView.USERS, page=p, user=flt.user_id or 0, act=act
            ).pack(),
            page_size=PICKER_PAGE_SIZE,
        )
    )
    builder.row(InlineKeyboardButton(text=_("← Back"), callback_data=_log(flt).pack()))
    return builder.as_markup()


def audit_actions_keyboard(
    flt: AuditFilter, actions: Sequence[tuple[str, str]]
) -> InlineKeyboardMarkup:
    """`actions`: (action, label); callback data too long for Telegram is left out."""
    builder = InlineKeyboardBuilder()
    user = flt.user_id or 0
    mark = "• " if flt.action is None else ""
    builder.button(
        text=mark + _("Any action"), callback_data=AuditLogCb(view=AuditLogView.PAGE, user=user)
    )
    for action, label in actions:
        data = AuditLogCb(view=AuditLogView.PAGE, user=user, act=action).pack()
        if len(data.encode()) > 64:
            continue
        mark = "• " if action == flt.action else ""
        builder.button(text=mark + label, callback_data=data)
    builder.adjust(2)
    builder.row(InlineKeyboardButton(text=_("← Back"), callback_data=_log(flt).pack()))
    return builder.as_markup()
