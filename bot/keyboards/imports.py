"""Importing clients: the preview's buttons and the column mapping."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import ImportAction, ImportCb
from bot.keyboards.common import cancel_button
from bot.services.imports import FIELDS

HEADER_SHOWN = 30  # characters of a header on a button or in the preview


def field_label(field: str) -> str:
    """What a column holds, in lower case to fit inside a sentence; "" is an ignored column."""
    labels = {
        "name": _("name"),
        "phone": _("phone"),
        "email": _("e-mail"),
        "inn": _("INN"),
        "address": _("address"),
        "region": _("region"),
        "industry": _("industry"),
        "owner": _("owner"),
        "notes": _("notes"),
    }
    return labels.get(field, _("ignored"))


def column_letter(index: int) -> str:
    """A, B, …, Z, AA, AB, … as spreadsheets name columns."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def short(text: str, limit: int = HEADER_SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def preview_keyboard(token: str, importable: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    if importable:
        builder.button(
            text=_("✅ Import clients: {count}").format(count=importable),
            callback_data=ImportCb(action=ImportAction.CONFIRM, token=token),
        )
    builder.button(
        text=_("🔀 Columns"), callback_data=ImportCb(action=ImportAction.COLUMNS, token=token)
    )
    builder.adjust(1)
    builder.row(cancel_button())
    return builder.as_markup()


def columns_keyboard(
    token: str, headers: Sequence[str], mapping: Sequence[str]
) -> InlineKeyboardMarkup:
    """A button per column of the file ("B · Телефон → phone"), then back to the preview."""
    builder = InlineKeyboardBuilder()
    for index, (header, field) in enumerate(zip(headers, mapping, strict=True)):
        title = short(header) or "—"
        builder.button(
            text=f"{column_letter(index)} · {title} → {field_label(field)}",
            callback_data=ImportCb(action=ImportAction.COLUMN, token=token, column=index),
        )
    builder.button(
        text=_("← Back"), callback_data=ImportCb(action=ImportAction.PREVIEW, token=token)
    )
    builder.adjust(1)
    return builder.as_markup()


def fields_keyboard(token: str, column: int, current: str) -> InlineKeyboardMarkup:
    """What one column holds: a field, or ignore it."""
    builder = InlineKeyboardBuilder()
    for field in FIELDS:
        mark = "✓ " if field == current else ""
        builder.button(
            text=mark + field_label(field),
            callback_data=ImportCb(
                action=ImportAction.MAP, token=token, column=column, field=field
            ),
        )
    builder.button(
        text=("✓ " if not current else "") + _("✖ Ignore"),
        callback_data=ImportCb(action=ImportAction.MAP, token=token, column=column),
    )
    builder.adjust(2)
    back = ImportCb(action=ImportAction.COLUMNS, token=token).pack()
    builder.row(InlineKeyboardButton(text=_("← Back"), callback_data=back))
    return builder.as_markup()
