"""Keyboards of the contact log: the kind, the review before saving, outcome, next step, date."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import ClientAction, ClientCb, FormAction, FormCb
from bot.keyboards.common import nav_row, step_keyboard
from bot.texts import interaction_kind_label
from db.models import InteractionKind

OUTCOME = "outcome"
NEXT_STEP = "next"


def kind_keyboard() -> InlineKeyboardMarkup:
    choices = [
        (interaction_kind_label(kind), FormCb(action=FormAction.CHOOSE, value=kind.value).pack())
        for kind in InteractionKind
    ]
    return step_keyboard(choices, columns=2, back=True)


def review_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("💾 Save"), callback_data=FormCb(action=FormAction.SAVE))
    builder.button(
        text=_("➕ Outcome"), callback_data=FormCb(action=FormAction.EDIT, value=OUTCOME)
    )
    builder.button(
        text=_("📅 Next step"), callback_data=FormCb(action=FormAction.EDIT, value=NEXT_STEP)
    )
    builder.adjust(1, 2)
    builder.row(*nav_row(back=True))
    return builder.as_markup()


def quick_date_label(key: str) -> str:
    return {
        "today": _("Today"),
        "tomorrow": _("Tomorrow"),
        "in_3_days": _("In 3 days"),
        "next_week": _("Next week"),
    }[key]


def due_keyboard(quick: Mapping[str, datetime]) -> InlineKeyboardMarkup:
    """Quick dates (parsing.quick_dates). A button carries the moment itself (Unix minutes: ':'
    is the separator of callback data), so it means the day it was shown for when pressed later."""
    choices = [
        (
            quick_date_label(key),
            FormCb(action=FormAction.CHOOSE, value=str(int(moment.timestamp()) // 60)).pack(),
        )
        for key, moment in quick.items()
    ]
    return step_keyboard(choices, columns=2, back=True)


def saved_keyboard(client_id: int) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(
        text=_("👤 Open the card"),
        callback_data=ClientCb(action=ClientAction.OPEN, client_id=client_id).pack(),
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button]])
