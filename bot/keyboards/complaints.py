"""Keyboards of complaints: the list with its views, a complaint's card (only the actions the
user may take now, each carrying the card's version), the pickers, and the new-complaint form."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import ComplaintAction, ComplaintCb, FormAction, FormCb
from bot.keyboards.common import nav_row, pager_row, step_keyboard
from bot.services.complaints import PAGE_SIZE, Act, View, is_overdue
from bot.texts import SEVERITY_MARK, severity_label, shorten
from db.models import Complaint, ComplaintSeverity, ReferenceItem, Role, User

BUTTON_NAME_MAX = 28  # a client's name on a list button
EDIT = "e"  # OPEN's value: show the card in place of the message (a list, history, picker)

# The card's actions in the order they are offered, with their callback action.
_ACTIONS = (
    (Act.TAKE, ComplaintAction.TAKE),
    (Act.RESOLVE, ComplaintAction.RESOLVE),
    (Act.COMMENT, ComplaintAction.COMMENT),
    (Act.ASK_REASSIGN, ComplaintAction.ASK_REASSIGN),
    (Act.ASSIGN, ComplaintAction.ASSIGN),
    (Act.SEVERITY, ComplaintAction.SEVERITY),
    (Act.CLOSE, ComplaintAction.CLOSE),
    (Act.REJECT, ComplaintAction.REJECT),
    (Act.REOPEN, ComplaintAction.REOPEN),
)


def age_label(complaint: Complaint, now: datetime) -> str:
    """How long the client has been waiting: "3 d", or "5 h" on the first day."""
    hours = max(int((now - complaint.created_at).total_seconds() // 3600), 0)
    if hours >= 24:
        return _("{days} d").format(days=hours // 24)
    return _("{hours} h").format(hours=hours)


def marks(complaint: Complaint, now: datetime) -> str:
    """⏰ when overdue, then the severity's colour."""
    return ("⏰" if is_overdue(complaint, now) else "") + SEVERITY_MARK[complaint.severity]


def complaint_button_text(complaint: Complaint, now: datetime) -> str:
    name = shorten(complaint.client.name, BUTTON_NAME_MAX)
    return f"{marks(complaint, now)} #{complaint.id} {name} · {age_label(complaint, now)}"


def view_label(view: View, user: User) -> str:
    if view is View.MINE:
        return _("📥 Mine and the queue")
    if view is View.QUEUE:
        return _("🏢 All open") if user.role is Role.ADMIN else _("🏢 Department")
    return _("👤 My clients")


def list_callback(view: View, page: int = 0) -> str:
    return ComplaintCb(action=ComplaintAction.LIST, value=view.value, page=page).pack()


def list_keyboard(
    items: Sequence[Complaint],
    now: datetime,
    user: User,
    view: View,
    views: Sequence[View],
    page: int,
    total: int,
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for complaint in items:
        builder.button(
            text=complaint_button_text(complaint, now),
            callback_data=ComplaintCb(
                action=ComplaintAction.OPEN, complaint_id=complaint.id, value=EDIT
            ),
        )
    builder.adjust(1)
    pages = pager_row(page, total, lambda p: list_callback(view, p), page_size=PAGE_SIZE)
    if pages:
        builder.row(*pages)
    if len(views) > 1:
        builder.row(
            *[
                InlineKeyboardButton(
                    text=("• " if other is view else "") + view_label(other, user),
                    callback_data=list_callback(other),
                )
                for other in views
            ]
        )
    builder.row(
        InlineKeyboardButton(
            text=_("➕ New complaint"),
            callback_data=ComplaintCb(action=ComplaintAction.NEW).pack(),
        )
    )
    return builder.as_markup()


def _action_label(act: Act) -> str:
    return {
        Act.TAKE: _("▶️ Take"),
        Act.RESOLVE: _("✅ Resolve"),
        Act.COMMENT: _("💬 Comment"),
        Act.ASK_REASSIGN: _("🔁 Ask to reassign"),
        Act.ASSIGN: _("👤 Assign"),
        Act.SEVERITY: _("🎚 Severity"),
        Act.CLOSE: _("🔒 Close"),
        Act.REJECT: _("⛔ Reject"),
        Act.REOPEN: _("↩️ Reopen"),
    }[act]


def card_keyboard(
    complaint: Complaint, acts: set[Act], back_to: View, *, has_files: bool
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for act, action in _ACTIONS:
        if act in acts:
            builder.button(
                text=_action_label(act),
                callback_data=ComplaintCb(
                    action=action, complaint_id=complaint.id, version=complaint.version
                ),
            )
    builder.button(
        text=_("🕘 History"),
        callback_data=ComplaintCb(action=ComplaintAction.HISTORY, complaint_id=complaint.id),
    )
    if has_files:
        builder.button(
            text=_("📎 Files"),
            callback_data=ComplaintCb(action=ComplaintAction.FILES, complaint_id=complaint.id),
        )
    builder.button(text=_("← List"), callback_data=list_callback(back_to))
    builder.adjust(2)
    return builder.as_markup()


def back_to_card_button(complaint_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("← Complaint"),
        callback_data=ComplaintCb(
            action=ComplaintAction.OPEN, complaint_id=complaint_id, value=EDIT
        ).pack(),
    )


def open_button(complaint_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("⚠️ Open the complaint"),
        callback_data=ComplaintCb(action=ComplaintAction.OPEN, complaint_id=complaint_id).pack(),
    )


def people_keyboard(complaint: Complaint, people: Sequence[User]) -> InlineKeyboardMarkup:
    """The queue's people; the current assignee is marked and not offered again."""
    builder = InlineKeyboardBuilder()
    for person in people:
        current = person.id == complaint.assignee_id
        builder.button(
            text=("✓ " if current else "") + shorten(person.full_name, 40),
            callback_data=ComplaintCb(
                action=ComplaintAction.OPEN if current else ComplaintAction.ASSIGN,
                complaint_id=complaint.id,
                version=complaint.version,
                value=EDIT if current else str(person.id),
            ),
        )
    builder.adjust(1)
    builder.row(back_to_card_button(complaint.id))
    return builder.as_markup()


def severity_label_with_mark(severity: ComplaintSeverity) -> str:
    return f"{SEVERITY_MARK[severity]} {severity_label(severity)}"


def severity_keyboard(complaint: Complaint) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for severity in reversed(ComplaintSeverity):
        if severity is not complaint.severity:
            builder.button(
                text=severity_label_with_mark(severity),
                callback_data=ComplaintCb(
                    action=ComplaintAction.SEVERITY,
                    complaint_id=complaint.id,
                    version=complaint.version,
                    value=severity.value,
                ),
            )
    builder.adjust(3)
    builder.row(back_to_card_button(complaint.id))
    return builder.as_markup()


def back_to_card_keyboard(complaint_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[back_to_card_button(complaint_id)]])


# The new-complaint form


def items_keyboard(
    items: Sequence[ReferenceItem], *, skip: bool = False, back: bool = True
) -> InlineKeyboardMarkup:
    """Reference items (a category, a product line) as answers, Skip if optional."""
    choices = [
        (shorten(item.name, 40), FormCb(action=FormAction.CHOOSE, value=str(item.id)).pack())
        for item in items
    ]
    if skip:
        choices.append((_("Skip ➡️"), FormCb(action=FormAction.SKIP).pack()))
    return step_keyboard(choices, columns=2, back=back)


def severity_choices() -> InlineKeyboardMarkup:
    choices = [
        (
            severity_label_with_mark(severity),
            FormCb(action=FormAction.CHOOSE, value=severity.value).pack(),
        )
        for severity in reversed(ComplaintSeverity)
    ]
    return step_keyboard(choices, columns=2, back=True)


def review_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("💾 Save"), callback_data=FormCb(action=FormAction.SAVE))
    builder.row(*nav_row(back=True))
    return builder.as_markup()


def saved_keyboard(complaint_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[open_button(complaint_id)]])
