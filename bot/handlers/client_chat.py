"""The client's side of the bot: opening a personal link, consent, answering surveys, opting
out. Clients are not staff: these handlers come first and take every update from a client
chat, so a client never reaches a staff screen; staff never reach these (but their /start with
a client link, which is refused)."""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram import F
from aiogram.filters import Command, CommandObject, CommandStart, Filter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, TelegramObject
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.handlers.registry import Handlers
from bot.i18n import locale_from_telegram
from bot.keyboards.callbacks import ClientChatAction, ClientChatCb, ConsentCb, SurveyCb
from bot.keyboards.surveys import (
    SKIP,
    comment_keyboard,
    consent_keyboard,
    opt_in_keyboard,
    opt_out_keyboard,
    score_buttons,
)
from bot.services import surveys
from bot.services.surveys import LinkState, SurveyGone
from bot.states import ClientSurvey
from bot.texts import survey_question
from db.models import ClientChat, SurveyKind, User

handlers = Handlers("client_chat")


class FromClient(Filter):
    """An update from a linked client's chat (not from staff)."""

    async def __call__(
        self,
        event: TelegramObject,
        user: User | None = None,
        client_chat: ClientChat | None = None,
    ) -> bool:
        return user is None and client_chat is not None


CLIENT = FromClient()


def privacy_note(settings: Settings) -> str:
    return _(
        "<b>{company}</b> would like to ask you, now and then, a short question about our "
        "service: one tap to answer, at most one question every {days} days.\n\n"
        "We keep only your answers and your Telegram name, linked to your company's record, "
        "and use them only to improve our service. You can stop at any time with /stop."
    ).format(company=escape(settings.company_name), days=settings.survey_min_gap_days)


def linked_text(settings: Settings, chat: ClientChat) -> str:
    if chat.opted_out_at is not None:
        return _(
            "You have opted out: {company} won't ask you anything. Tap below to allow "
            "short questions again."
        ).format(company=escape(settings.company_name))
    return _(
        "Hello again! You're linked with {company}: we'll ask you a short question now and "
        "then. /stop — no more questions."
    ).format(company=escape(settings.company_name))


# Opening a personal link


@handlers.message(CommandStart(), F.text.regexp(r"^/start(@\w+)? c_"))
async def open_link(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
    user: User | None,
) -> None:
    """Anyone may open a link: staff are refused, a linked client is greeted, an unknown,
    revoked or used link gets a polite word; otherwise the consent question."""
    if message.from_user is None:
        return
    check = await surveys.check_link(
        session, command.args or "", message.from_user.id, is_staff=user is not None
    )
    if check.state is LinkState.STAFF:
        await message.answer(
            _("This is a client's personal link. You are staff, so it can't be used by you.")
        )
    elif check.state is LinkState.LINKED and check.chat is not None:
        keyboard = opt_in_keyboard() if check.chat.opted_out_at else opt_out_keyboard()
        await message.answer(linked_text(settings, check.chat), reply_markup=keyboard)
    elif check.state is LinkState.UNKNOWN:
        await message.answer(
            _(
                "Sorry, this link doesn't work: it may be out of date. Please ask your "
                "manager for a new one."
            )
        )
    else:
        await message.answer(
            privacy_note(settings), reply_markup=consent_keyboard(command.args or "")
        )


@handlers.callback_query(ConsentCb.filter())
async def consent_answered(
    query: CallbackQuery,
    callback_data: ConsentCb,
    session: AsyncSession,
    settings: Settings,
    user: User | None,
) -> None:
    if not callback_data.agree:
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_text(
                _("All right, we won't ask you anything. Have a good day!")
            )
        return
    tg_user = query.from_user
    chat = await surveys.consent(
        session,
        callback_data.token,
        tg_user.id,
        tg_user.full_name,
        locale_from_telegram(tg_user.language_code, settings.default_locale),
        is_staff=user is not None,
    )
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if chat is None:
        await query.message.edit_text(
            _("Sorry, this link no longer works. Please ask your manager for a new one.")
        )
        return
    await query.message.edit_text(
        _(
            "Thank you! You're linked with {company}. We'll ask a short question now and "
            "then. /stop — no more questions."
        ).format(company=escape(settings.company_name))
    )


# Opting out and back in


@handlers.message(Command("stop"), CLIENT)
async def stop_command(
    message: Message, session: AsyncSession, settings: Settings, client_chat: ClientChat
) -> None:
    await surveys.set_opted_out(session, client_chat, True)
    await message.answer(
        _("Done: {company} won't ask you anything more. /start — to allow questions again.").format(
            company=escape(settings.company_name)
        ),
        reply_markup=opt_in_keyboard(),
    )


@handlers.message(CommandStart(), CLIENT)
async def start_again(
    message: Message, session: AsyncSession, settings: Settings, client_chat: ClientChat
) -> None:
    if client_chat.opted_out_at is not None:
        await surveys.set_opted_out(session, client_chat, False)
        await message.answer(
            _("Welcome back! We'll ask a short question now and then. /stop — no more questions."),
            reply_markup=opt_out_keyboard(),
        )
        return
    await message.answer(linked_text(settings, client_chat), reply_markup=opt_out_keyboard())


@handlers.callback_query(ClientChatCb.filter(), CLIENT)
async def opt_button(
    query: CallbackQuery,
    callback_data: ClientChatCb,
    session: AsyncSession,
    settings: Settings,
    client_chat: ClientChat,
) -> None:
    stop = callback_data.action is ClientChatAction.STOP
    await surveys.set_opted_out(session, client_chat, stop)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        if stop:
            text = _("Done: we won't ask you anything more. /start — to allow questions again.")
        else:
            text = _("Welcome back! We'll ask a short question now and then.")
        await query.message.answer(text)


# Answering


def chosen_text(kind: SurveyKind, score: int) -> str:
    scale = "0–10" if kind is SurveyKind.NPS else "1–5"
    return _("Your answer: <b>{score}</b> (of {scale}). Thank you!").format(
        score=score, scale=scale
    )


@handlers.callback_query(SurveyCb.filter(F.score == SKIP), CLIENT)
async def comment_skipped(query: CallbackQuery, callback_data: SurveyCb, state: FSMContext):
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(_("Thank you for your answer! 🙏"))


@handlers.callback_query(SurveyCb.filter(), CLIENT)
async def score_chosen(
    query: CallbackQuery,
    callback_data: SurveyCb,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
) -> None:
    """The score is stored once; the question is edited to show it, then an optional comment
    is asked. Old, foreign or repeated taps are answered politely and change nothing."""
    try:
        survey = await surveys.answer(
            session, query.from_user.id, callback_data.survey_id, callback_data.score, clock.now()
        )
    except SurveyGone as gone:
        await query.answer(_(gone.message))
        return
    await query.answer(_("Thank you!"))
    if not isinstance(query.message, Message):
        return
    assert survey.score is not None
    await query.message.edit_text(
        (query.message.html_text or "") + "\n\n" + chosen_text(survey.kind, survey.score)
    )
    await state.set_state(ClientSurvey.comment)
    await state.set_data({"survey_id": survey.id})
    await query.message.answer(
        _("Would you like to add a few words? Type them or send a voice note."),
        reply_markup=comment_keyboard(survey.id),
    )


@handlers.message(ClientSurvey.comment, F.text | F.voice, CLIENT)
async def comment_given(
    message: Message, state: FSMContext, session: AsyncSession, clock: Clock
) -> None:
    data: dict[str, Any] = await state.get_data()
    await state.clear()
    if message.text and message.text.startswith("/"):
        return
    try:
        await surveys.add_comment(
            session,
            message.chat.id,
            int(data.get("survey_id", 0)),
            clock.now(),
            text=message.text,
            voice_file_id=message.voice.file_id if message.voice else None,
        )
    except SurveyGone:
        pass
    await message.answer(_("Thank you for your answer! 🙏"))


@handlers.message(CLIENT)
async def anything_else(
    message: Message,
    session: AsyncSession,
    settings: Settings,
    client_chat: ClientChat,
    clock: Clock,
) -> None:
    """Clients have nothing to browse here: a question waiting for them is asked again,
    otherwise a kind word instead of a staff screen."""
    waiting = await surveys.waiting_survey(session, client_chat, clock.now())
    if waiting is not None:
        question = survey_question(waiting, settings.company_name, client_chat.locale)
        buttons = InlineKeyboardMarkup.model_validate({"inline_keyboard": score_buttons(waiting)})
        await message.answer(
            _("Please tap a number below.") + "\n\n" + question, reply_markup=buttons
        )
        return
    await message.answer(
        _(
            "Thank you for your message! This chat is only for short questions from "
            "{company}; for anything else please contact your manager. /stop — no more "
            "questions."
        ).format(company=escape(settings.company_name))
    )


@handlers.callback_query(CLIENT)
async def old_button(query: CallbackQuery) -> None:
    await query.answer(_("Thank you! This question is already closed."))
