from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import (
    ClientAction,
    ClientCb,
    EraseCb,
    FormAction,
    FormCb,
    PickCb,
    SurveyLinkAction,
    SurveyLinkCb,
)
from bot.keyboards.common import nav_row
from bot.texts import client_kind_label, client_status_label
from db.models import Client, ClientKind, ClientStatus, Role, User

EDITABLE_FIELDS = (
    "name",
    "kind",
    "status",
    "phone",
    "email",
    "inn",
    "address",
    "industry",
    "region",
    "lead_source",
    "notes",
)


def field_label(field: str) -> str:
    return {
        "name": _("Name"),
        "kind": _("Kind"),
        "status": _("Status"),
        "phone": _("Phone"),
        "email": _("E-mail"),
        "inn": _("INN"),
        "address": _("Address"),
        "industry": _("Industry"),
        "region": _("Region"),
        "lead_source": _("Lead source"),
        "notes": _("Notes"),
    }[field]


def client_button_text(client: Client) -> str:
    return f"{'🏢' if client.kind is ClientKind.COMPANY else '👤'} {client.name}"[:64]


def client_picker(
    clients: Sequence[Client], *, back: bool = False, extra: Sequence[InlineKeyboardButton] = ()
) -> InlineKeyboardMarkup:
    """Clients as buttons (PickCb), then any extra buttons, then Back/Cancel."""
    builder = InlineKeyboardBuilder()
    for client in clients:
        builder.button(text=client_button_text(client), callback_data=PickCb(client_id=client.id))
    builder.adjust(1)
    for button in extra:
        builder.row(button)
    builder.row(*nav_row(back=back))
    return builder.as_markup()


def kind_choices() -> list[tuple[str, str]]:
    return [
        (client_kind_label(kind), FormCb(action=FormAction.CHOOSE, value=kind.value).pack())
        for kind in ClientKind
    ]


def card_keyboard(client: Client, user: User, *, has_files: bool) -> InlineKeyboardMarkup:
    """The card's actions; an erased client's card only shows what is kept (history, deals)
    and who owns it: nothing new is recorded about them (clients.get_writable_client)."""
    builder = InlineKeyboardBuilder()
    erased = client.erased_at is not None

    def add(text: str, action: ClientAction) -> None:
        builder.button(text=text, callback_data=ClientCb(action=action, client_id=client.id))

    if not erased:
        add(_("📝 Log contact"), ClientAction.LOG)
        add(_("⏰ Reminder"), ClientAction.REMIND)
    add(_("🕘 History"), ClientAction.HISTORY)
    add(_("💼 Deals"), ClientAction.DEALS)
    if not erased:
        add(_("✏️ Edit"), ClientAction.EDIT)
        add(_("👥 Contacts"), ClientAction.CONTACTS)
        if has_files:
            add(_("📎 Files"), ClientAction.FILES)
        add(_("📍 Set location"), ClientAction.LOCATION)
        add(_("⚠️ Complaint"), ClientAction.COMPLAINT)
    if user.role in (Role.HEAD, Role.ADMIN):
        add(_("🔁 Reassign"), ClientAction.REASSIGN)
    if not erased:
        for text, action in (
            (_("🔗 Survey link"), SurveyLinkAction.LINK),
            (_("📣 Ask for feedback"), SurveyLinkAction.ASK),
        ):
            link = SurveyLinkCb(action=action, client_id=client.id)
            builder.button(text=text, callback_data=link)
        if user.role is Role.ADMIN:
            builder.button(text=_("🗑 Erase"), callback_data=EraseCb(client_id=client.id))
    builder.adjust(2)
    return builder.as_markup()


def edit_fields_keyboard(client: Client) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for field in EDITABLE_FIELDS:
        builder.button(
            text=field_label(field),
            callback_data=ClientCb(action=ClientAction.FIELD, client_id=client.id, value=field),
        )
    builder.adjust(3)
    builder.row(
        InlineKeyboardButton(
            text=_("← Back"),
            callback_data=ClientCb(action=ClientAction.OPEN, client_id=client.id).pack(),
        )
    )
    return builder.as_markup()


def status_choices(client_id: int) -> list[tuple[str, str]]:
    return [
        (
            client_status_label(status),
            ClientCb(
                action=ClientAction.SET, client_id=client_id, value=f"status.{status.value}"
            ).pack(),
        )
        for status in ClientStatus
    ]


def erase_confirm_keyboard(client: Client) -> InlineKeyboardMarkup:
    """The second, final tap of an erasure, or back to the card."""
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("🗑 Yes, erase for good"), callback_data=EraseCb(client_id=client.id, confirm=True)
    )
    builder.button(
        text=_("← Back"), callback_data=ClientCb(action=ClientAction.OPEN, client_id=client.id)
    )
    builder.adjust(1)
    return builder.as_markup()
