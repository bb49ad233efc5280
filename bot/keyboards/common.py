from __future__ import annotations

from collections.abc import Callable, Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import FormAction, FormCb, Nav, NavAction

PAGE_SIZE = 8


def cancel_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("✖ Cancel"), callback_data=Nav(action=NavAction.CANCEL).pack()
    )


def back_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("← Back"), callback_data=Nav(action=NavAction.BACK).pack())


def nav_row(*, back: bool = False) -> list[InlineKeyboardButton]:
    return [back_button(), cancel_button()] if back else [cancel_button()]


def step_keyboard(
    choices: Sequence[tuple[str, str]], *, columns: int = 2, back: bool = False
) -> InlineKeyboardMarkup:
    """A question's answers as buttons (label, callback data), then Back / Cancel."""
    builder = InlineKeyboardBuilder()
    for label, data in choices:
        builder.button(text=label, callback_data=data)
    builder.adjust(columns)
    builder.row(*nav_row(back=back))
    return builder.as_markup()


def skip_keyboard(*, back: bool = True) -> InlineKeyboardMarkup:
    """An optional answer: Skip, then Back / Cancel."""
    return step_keyboard([(_("Skip ➡️"), FormCb(action=FormAction.SKIP).pack())], back=back)


def nav_keyboard(*, back: bool = False) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[nav_row(back=back)])


def pager_row(
    page: int, total: int, make: Callable[[int], str], *, page_size: int = PAGE_SIZE
) -> list[InlineKeyboardButton]:
    """◀ 2/5 ▶ for a list of `total` items; empty when it fits one page."""
    pages = max((total + page_size - 1) // page_size, 1)
    if pages == 1:
        return []
    row = []
    if page > 0:
        row.append(InlineKeyboardButton(text="◀", callback_data=make(page - 1)))
    row.append(InlineKeyboardButton(text=f"{page + 1}/{pages}", callback_data=make(page)))
    if page < pages - 1:
        row.append(InlineKeyboardButton(text="▶", callback_data=make(page + 1)))
    return row
