"""Staff side of the surveys, from a client's card: the client's personal link (and its QR code
to show on a phone at a visit), revoking it, and "Ask for feedback"."""

from __future__ import annotations

import io
from html import escape

import segno
from aiogram import Bot, F
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import ClientAction, ClientCb, SurveyLinkAction, SurveyLinkCb
from bot.services import clients, surveys
from db.models import Client, ClientLink, User

handlers = Handlers("surveys")

QR_SCALE = 12  # about 500 px for a link of this length: sharp on a phone held up to a camera


def qr_png(url: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=QR_SCALE, border=4)
    return buffer.getvalue()


async def bot_username(bot: Bot, settings: Settings) -> str:
    return settings.bot_username or (await bot.me()).username or ""


def link_keyboard(link: ClientLink) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("🚫 Revoke the link"),
        callback_data=SurveyLinkCb(
            action=SurveyLinkAction.REVOKE, client_id=link.client_id, value=link.id
        ),
    )
    builder.button(
        text=_("👤 Open client"),
        callback_data=ClientCb(action=ClientAction.OPEN, client_id=link.client_id),
    )
    builder.adjust(1)
    return builder.as_markup()


COMPANY = -1  # SurveyLinkCb.value for a link to the client itself, not one of its people


def recipient_keyboard(client: Client) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()

    def add(text: str, value: int) -> None:
        builder.button(
            text=text[:64],
            callback_data=SurveyLinkCb(
                action=SurveyLinkAction.LINK, client_id=client.id, value=value
            ),
        )

    add(f"🏢 {client.name}", COMPANY)
    for person in client.contacts[:10]:
        add(f"👤 {person.name}", person.id)
    builder.adjust(1)
    return builder.as_markup()


@handlers.callback_query(SurveyLinkCb.filter(F.action == SurveyLinkAction.LINK))
async def make_link(
    query: CallbackQuery,
    callback_data: SurveyLinkCb,
    bot: Bot,
    session: AsyncSession,
    settings: Settings,
    user: User,
) -> None:
    """A fresh link (earlier unused ones stop working), as text and as a QR code. A client with
    contact persons is asked first whom the link is for."""
    client = await clients.get_client(session, user, callback_data.client_id)
    if callback_data.value == 0 and client.contacts:
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.answer(
                _("Whom is the link for?"), reply_markup=recipient_keyboard(client)
            )
        return
    person_id = callback_data.value if callback_data.value > 0 else None
    link = await surveys.create_link(session, user, client.id, person_id)
    person = next((p for p in client.contacts if p.id == person_id), None)
    name = f"{client.name} · {person.name}" if person else client.name
    url = f"https://t.me/{await bot_username(bot, settings)}?start={link.token}"
    await query.answer()
    if not isinstance(query.message, Message):
        return
    caption = _(
        "🔗 <b>Survey link for {name}</b>\n{url}\n\n"
        "Send it to the client or let them scan the code. When they open it and agree, "
        "they'll get short one-tap questions about our service. The link works once; a new "
        "link makes this one stop working."
    ).format(name=escape(name), url=url)
    await query.message.answer_photo(
        BufferedInputFile(qr_png(url), filename="survey-link.png"),
        caption=caption,
        reply_markup=link_keyboard(link),
        protect_content=True,
    )


@handlers.callback_query(SurveyLinkCb.filter(F.action == SurveyLinkAction.REVOKE))
async def revoke_link(
    query: CallbackQuery, callback_data: SurveyLinkCb, session: AsyncSession, user: User
) -> None:
    link = await surveys.revoke_link(session, user, callback_data.value)
    if link.client_id != callback_data.client_id:
        await query.answer()
        return
    if link.used_at is not None:
        await query.answer(_("The client has already used this link."), show_alert=True)
        return
    await query.answer(_("Revoked: the link no longer works."))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)


@handlers.callback_query(SurveyLinkCb.filter(F.action == SurveyLinkAction.ASK))
async def ask_for_feedback(
    query: CallbackQuery,
    callback_data: SurveyLinkCb,
    session: AsyncSession,
    settings: Settings,
    user: User,
    clock: Clock,
) -> None:
    await surveys.ask_now(session, user, callback_data.client_id, settings, clock.now())
    await query.answer(
        _("The question goes out now; you'll be told if the answer is low."), show_alert=True
    )
