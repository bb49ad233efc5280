"""Keyboards of 📋 Plans: the team's plans of a month, one member's plan, the +N% choice."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import PipelineAction, PipelineCb, PlanAction, PlanCb
from bot.keyboards.common import nav_row
from bot.texts import one_line

BUTTON_TEXT_MAX = 40
GROWTH_CHOICES = (5, 10, 15, 20)


def plans_keyboard(
    month: str,
    members: Sequence[tuple[int, str]],
    previous: tuple[str, str],
    following: tuple[str, str],
) -> InlineKeyboardMarkup:
    """A button per member, ◀ ▶ months (month, label), copy and grow, back to the pipeline."""
    builder = InlineKeyboardBuilder()
    for subject_id, name in members:
        builder.button(
            text=one_line(name, BUTTON_TEXT_MAX),
            callback_data=PlanCb(action=PlanAction.OPEN, month=month, subject_id=subject_id),
        )
    builder.adjust(1)
    builder.row(
        InlineKeyboardButton(
            text=f"◀ {previous[1]}",
            callback_data=PlanCb(action=PlanAction.HOME, month=previous[0]).pack(),
        ),
        InlineKeyboardButton(
            text=f"{following[1]} ▶",
            callback_data=PlanCb(action=PlanAction.HOME, month=following[0]).pack(),
        ),
    )
    builder.row(
        InlineKeyboardButton(
            text=_("📋 Copy last month"),
            callback_data=PlanCb(action=PlanAction.COPY, month=month).pack(),
        )
    )
    builder.row(
        InlineKeyboardButton(
            text=_("📈 Last year +N%"),
            callback_data=PlanCb(action=PlanAction.GROW, month=month).pack(),
        )
    )
    builder.row(
        InlineKeyboardButton(
            text=_("← Pipeline"), callback_data=PipelineCb(action=PipelineAction.HOME).pack()
        )
    )
    return builder.as_markup()


def member_keyboard(month: str, subject_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("✏️ Set plan"),
        callback_data=PlanCb(action=PlanAction.SET, month=month, subject_id=subject_id),
    )
    builder.button(text=_("← Plans"), callback_data=PlanCb(action=PlanAction.HOME, month=month))
    builder.adjust(1)
    return builder.as_markup()


def growth_keyboard(month: str) -> InlineKeyboardMarkup:
    """+5 / +10 / +15 / +20 %, then Cancel (a typed number works too)."""
    builder = InlineKeyboardBuilder()
    for percent in GROWTH_CHOICES:
        builder.button(
            text=f"+{percent}%",
            callback_data=PlanCb(action=PlanAction.GROW_BY, month=month, value=str(percent)),
        )
    builder.adjust(len(GROWTH_CHOICES))
    builder.row(*nav_row())
    return builder.as_markup()
