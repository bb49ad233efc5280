"""Keyboards of deals: the new-deal steps, the deal card with its actions, a client's deals.

Every card button carries the deal's id and the version the card showed, so a second tap on
an old button is refused instead of moving the deal twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import (
    ClientAction,
    ClientCb,
    DealAction,
    DealCb,
    FormAction,
    FormCb,
    PipelineAction,
    PipelineCb,
)
from bot.keyboards.common import nav_row, pager_row, step_keyboard
from bot.services.deals import EDITABLE_FIELDS, PAGE_SIZE
from bot.texts import stage_label
from db.models import Deal, DealStage, ReferenceItem

BUTTON_TEXT_MAX = 48


def field_label(field: str) -> str:
    return {
        "title": _("Title"),
        "amount": _("Amount"),
        "product_line": _("Product line"),
        "close": _("Expected close"),
        "summary": _("Summary"),
    }[field]


def quick_close_label(key: str) -> str:
    return {
        "in_2_weeks": _("In 2 weeks"),
        "end_of_month": _("End of this month"),
        "end_of_next_month": _("End of next month"),
    }[key]


def _choose(value: str) -> str:
    return FormCb(action=FormAction.CHOOSE, value=value).pack()


def _skip(label: str) -> tuple[str, str]:
    return label, FormCb(action=FormAction.SKIP).pack()


# The new-deal flow and the edits


def product_line_keyboard(
    items: Sequence[ReferenceItem], *, skip_label: str, back: bool = True
) -> InlineKeyboardMarkup:
    choices = [(item.name[:BUTTON_TEXT_MAX], _choose(str(item.id))) for item in items]
    return step_keyboard([*choices, _skip(skip_label)], columns=2, back=back)


def close_keyboard(
    quick: Mapping[str, date], *, skip_label: str, back: bool = True
) -> InlineKeyboardMarkup:
    """Quick dates; each button carries its date (ISO), so it means the day it was shown for."""
    choices = [(quick_close_label(key), _choose(day.isoformat())) for key, day in quick.items()]
    return step_keyboard([*choices, _skip(skip_label)], columns=1, back=back)


def optional_text_keyboard(*, skip_label: str, back: bool = True) -> InlineKeyboardMarkup:
    return step_keyboard([_skip(skip_label)], back=back)


def review_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("💾 Save"), callback_data=FormCb(action=FormAction.SAVE))
    builder.row(*nav_row(back=True))
    return builder.as_markup()


def won_keyboard(amount_label: str, amount_minor: int) -> InlineKeyboardMarkup:
    """The current amount as a ready answer: one tap when the deal closed as planned."""
    return step_keyboard([(f"✅ {amount_label}", _choose(str(amount_minor)))], columns=1)


def reasons_keyboard(items: Sequence[ReferenceItem]) -> InlineKeyboardMarkup:
    choices = [(item.name[:BUTTON_TEXT_MAX], _choose(str(item.id))) for item in items]
    return step_keyboard(choices, columns=1)


# The card


def _deal(action: DealAction, deal: Deal, value: str = "") -> str:
    return DealCb(action=action, deal_id=deal.id, version=deal.version, value=value).pack()


def back_to_deals() -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("← Deals"), callback_data=PipelineCb(action=PipelineAction.HOME).pack()
    )


def card_keyboard(deal: Deal, next_stage: DealStage | None) -> InlineKeyboardMarkup:
    """Open deals: next stage, pick a stage, won, lost, edit, log contact, history, client.
    Closed deals: pick a stage (to reopen), history, client."""
    builder = InlineKeyboardBuilder()

    def add(text: str, action: DealAction) -> None:
        builder.button(text=text, callback_data=_deal(action, deal))

    if deal.stage.is_open and next_stage is not None:
        add(_("➡️ {stage}").format(stage=stage_label(next_stage)), DealAction.NEXT)
        add(_("🔀 Stage"), DealAction.STAGES)
        add(_("🏆 Won"), DealAction.WON)
        add(_("✖ Lost"), DealAction.LOST)
        add(_("✏️ Edit"), DealAction.EDIT)
        add(_("📝 Log contact"), DealAction.LOG)
        sizes = [1, 3, 2, 2]
    else:
        add(_("🔀 Stage"), DealAction.STAGES)
        sizes = [1, 2]
    add(_("🕘 History"), DealAction.HISTORY)
    builder.button(
        text=_("👤 Client"),
        callback_data=ClientCb(action=ClientAction.OPEN, client_id=deal.client_id),
    )
    builder.adjust(*sizes)
    builder.row(back_to_deals())
    return builder.as_markup()


def back_to_card(deal: Deal, text: str | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text or _("← Deal"), callback_data=_deal(DealAction.OPEN, deal)
    )


def stages_keyboard(deal: Deal) -> InlineKeyboardMarkup:
    """Every stage but the current one; won and lost lead to their questions."""
    builder = InlineKeyboardBuilder()
    for stage in DealStage:
        if stage is not deal.stage:
            builder.button(
                text=stage_label(stage), callback_data=_deal(DealAction.SET_STAGE, deal, stage)
            )
    builder.adjust(2)
    builder.row(back_to_card(deal, _("← Back")))
    return builder.as_markup()


def edit_fields_keyboard(deal: Deal) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for field in EDITABLE_FIELDS:
        builder.button(text=field_label(field), callback_data=_deal(DealAction.FIELD, deal, field))
    builder.adjust(2)
    builder.row(back_to_card(deal, _("← Back")))
    return builder.as_markup()


def history_keyboard(deal: Deal) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[back_to_card(deal)]])


def saved_keyboard(deal: Deal) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[back_to_card(deal, _("💼 Open the deal"))]])


# A client's deals


def client_deals_keyboard(
    client_id: int, shown: Sequence[tuple[Deal, str]], page: int, total: int
) -> InlineKeyboardMarkup:
    """One button per deal (deal, label), the pages, ➕ New deal and back to the card."""
    builder = InlineKeyboardBuilder()
    for deal, label in shown:
        builder.button(text=label, callback_data=_deal(DealAction.OPEN, deal))
    builder.adjust(1)
    pages = pager_row(
        page,
        total,
        lambda p: ClientCb(action=ClientAction.DEALS, client_id=client_id, page=p).pack(),
        page_size=PAGE_SIZE,
    )
    if pages:
        builder.row(*pages)
    builder.row(
        InlineKeyboardButton(
            text=_("➕ New deal"),
            callback_data=ClientCb(action=ClientAction.NEW_DEAL, client_id=client_id).pack(),
        ),
        InlineKeyboardButton(
            text=_("← Card"),
            callback_data=ClientCb(action=ClientAction.OPEN, client_id=client_id).pack(),
        ),
    )
    return builder.as_markup()


def deal_button_text(label: str) -> str:
    return label if len(label) <= BUTTON_TEXT_MAX else label[: BUTTON_TEXT_MAX - 1] + "…"
