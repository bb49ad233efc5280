"""Keyboards clients see: consent, the score buttons, Skip, opting out; and the staff's link
screen on a client card."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import (
    ClientChatAction,
    ClientChatCb,
    ConsentCb,
    SurveyCb,
)
from bot.services.surveys import SCORES
from db.models import Survey, SurveyKind

SKIP = -1


def score_buttons(survey: Survey) -> list[list[dict[str, str]]]:
    """0–10 in two rows (NPS) or 1–5 in one (CSAT), as plain dicts the outbox keeps."""

    def button(score: int) -> dict[str, str]:
        return {
            "text": str(score),
            "callback_data": SurveyCb(survey_id=survey.id, score=score).pack(),
        }

    scores = [button(score) for score in SCORES[survey.kind]]
    if survey.kind is SurveyKind.NPS:
        return [scores[:6], scores[6:]]
    return [scores]


def consent_keyboard(token: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ I agree"), callback_data=ConsentCb(token=token, agree=True))
    builder.button(text=_("No, thanks"), callback_data=ConsentCb(token=token, agree=False))
    builder.adjust(1)
    return builder.as_markup()


def comment_keyboard(survey_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Skip ➡️"), callback_data=SurveyCb(survey_id=survey_id, score=SKIP))
    return builder.as_markup()


def opt_out_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("🔕 Stop these questions"),
        callback_data=ClientChatCb(action=ClientChatAction.STOP),
    )
    return builder.as_markup()


def opt_in_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("🔔 Ask me again"),
        callback_data=ClientChatCb(action=ClientChatAction.RESUME),
    )
    return builder.as_markup()
