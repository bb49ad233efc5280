"""💼 Deals: a new deal (from the pipeline screen or a client's card), the deal card and its
actions (next stage, any stage, won, lost, edit, log contact, history), a client's deals.

Card buttons carry the version the card showed; the service moves a deal only while it is
still at that version, so a double tap or two people at once change it once, and the card is
shown again as it now stands. The won and lost questions keep the version they started from,
so a second confirmation fails the same clean way.

FSM data holds JSON values only, so a restart mid-flow continues. A new deal: client_id,
product_line_id and product_line_name, title, amount (minor units), currency, close (ISO
date), summary, default_currency, quick ({key: ISO date}: the close dates as first shown).
Card questions: deal_id, version, field, lost_reason_id, quick.
"""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.flows import go, step
from bot.handlers.client_card import history_entry, start_flow_for_client
from bot.handlers.client_step import ask_for_client, client_step
from bot.handlers.common import leave_question, skip_step
from bot.handlers.registry import Handlers
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
from bot.keyboards.common import nav_keyboard
from bot.keyboards.deals import (
    card_keyboard,
    client_deals_keyboard,
    close_keyboard,
    deal_button_text,
    edit_fields_keyboard,
    history_keyboard,
    optional_text_keyboard,
    product_line_keyboard,
    reasons_keyboard,
    review_keyboard,
    stages_keyboard,
    won_keyboard,
)
from bot.services import catalog, clients, complaints, deals, money, parsing
from bot.services.deals import DealChanged, DealClosed, DealDraft
from bot.services.errors import N_, InvalidInput, NotFound
from bot.states import ContactLog, DealEdit, DealForm
from bot.texts import shorten, stage_label
from db.models import Deal, DealStage, ReferenceKind, User
from db.types import utcnow

handlers = Handlers("deals")

SUMMARY_SHOWN_MAX = 1500  # the card stays within Telegram's 4096 characters
HISTORY_TEXT_MAX = 3800
_MONTHS_EN = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
CHOOSE_A_BUTTON = N_("Please choose one of the buttons below.")


def _zone(user: User) -> ZoneInfo:
    return ZoneInfo(user.timezone)


def _today(user: User, now: datetime) -> date:
    return now.astimezone(_zone(user)).date()


def day_text(day: date, locale: str) -> str:
    """A date without a time: "25.12.2026" / "25 Dec 2026"."""
    if locale.lower().startswith("ru"):
        return f"{day:%d.%m.%Y}"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def _money(minor: int, currency: str, user: User) -> str:
    return money.format_money(minor, currency, user.locale)


# The card


def card_text(
    deal: Deal, user: User, percents: dict[DealStage, int], now: datetime, stale_days: int
) -> str:
    """Everything about the deal, values escaped; dates in the user's calendar."""
    today = _today(user, now)
    lines = [
        f"💼 <b>{escape(deal.title)}</b>",
        _("Client: {name}").format(name=escape(deal.client.name)),
        _("Owner: {name}").format(name=escape(deal.owner.full_name)),
    ]
    if deal.product_line is not None:
        lines.append(_("Product line: {name}").format(name=escape(deal.product_line.name)))
    lines.append(
        _("Amount: {amount}").format(amount=_money(deal.amount_minor, deal.currency, user))
    )
    lines.append(
        _("Stage: {stage} · {percent}%").format(
            stage=stage_label(deal.stage), percent=percents[deal.stage]
        )
    )
    if deal.expected_close_on is not None:
        shown = day_text(deal.expected_close_on, user.locale)
        if deal.stage.is_open and deal.expected_close_on < today:
            lines.append(_("Expected close: {date} ⚠️ past").format(date=shown))
        else:
            lines.append(_("Expected close: {date}").format(date=shown))
    if deal.closed_at is not None:
        closed = parsing.format_when(deal.closed_at, _zone(user), user.locale)
        lines.append(_("Closed: {when}").format(when=closed))
    if deals.is_stale(deal, now, today, stale_days):
        idle = (now - deal.last_activity_at).days
        if idle >= stale_days:
            lines.append(_("⏳ Stale: no activity for {days} days").format(days=idle))
        else:
            lines.append(_("⏳ Stale: past its expected close date"))
    if deal.stage is DealStage.LOST:
        reason = deal.lost_reason.name if deal.lost_reason is not None else "—"
        lines.append(_("Reason lost: {reason}").format(reason=escape(reason)))
        if deal.lost_comment:
            lines.append(_("Comment: {comment}").format(comment=escape(deal.lost_comment)))
    if deal.summary:
        summary = escape(shorten(deal.summary, SUMMARY_SHOWN_MAX))
        lines.append(_("Summary: {summary}").format(summary=summary))
    return "\n".join(lines)


async def card_view(
    session: AsyncSession, user: User, deal: Deal, now: datetime, settings: Settings
) -> tuple[str, InlineKeyboardMarkup]:
    percents = await deals.probabilities(session)
    text = card_text(deal, user, percents, now, settings.deal_stale_days)
    return text, card_keyboard(deal, deals.next_stage(deal.stage))


async def send_deal(
    message: Message,
    session: AsyncSession,
    user: User,
    deal: Deal,
    now: datetime,
    settings: Settings,
    note: str = "",
) -> None:
    """The card as a new message, protected like all client data: no forwarding, no saving."""
    text, keyboard = await card_view(session, user, deal, now, settings)
    await message.answer(
        f"{note}\n\n{text}" if note else text, reply_markup=keyboard, protect_content=True
    )


async def edit_deal(
    message: Message,
    session: AsyncSession,
    user: User,
    deal: Deal,
    now: datetime,
    settings: Settings,
    note: str = "",
) -> None:
    text, keyboard = await card_view(session, user, deal, now, settings)
    await message.edit_text(f"{note}\n\n{text}" if note else text, reply_markup=keyboard)


async def _current(session: AsyncSession, user: User, deal_id: int) -> Deal:
    """The deal as committed now: this session may hold an older copy of it."""
    deal = await deals.get_deal(session, user, deal_id)
    await session.refresh(deal)
    return deal


async def _show_changed(
    query: CallbackQuery,
    deal_id: int,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    """A stale button (a double tap, or someone else acted): say so, show the deal as it is."""
    await query.answer(_(DealChanged.message), show_alert=True)
    deal = await _current(session, user, deal_id)
    if isinstance(query.message, Message):
        await edit_deal(query.message, session, user, deal, clock.now(), settings)


@handlers.callback_query(DealCb.filter(F.action == DealAction.OPEN))
async def open_deal(
    query: CallbackQuery,
    callback_data: DealCb,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    deal = await deals.get_deal(session, user, callback_data.deal_id)
    await query.answer()
    if isinstance(query.message, Message):
        await edit_deal(query.message, session, user, deal, clock.now(), settings)


# Stages: next, any, reopen


async def _move(
    query: CallbackQuery,
    callback_data: DealCb,
    target: DealStage,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    try:
        deal = await deals.change_stage(
            session, user, callback_data.deal_id, target, callback_data.version
        )
    except DealChanged:
        await _show_changed(query, callback_data.deal_id, session, user, clock, settings)
        return
    await query.answer(_("Stage: {stage}").format(stage=stage_label(target)))
    if isinstance(query.message, Message):
        await edit_deal(query.message, session, user, deal, clock.now(), settings)


@handlers.callback_query(DealCb.filter(F.action == DealAction.NEXT))
async def to_next_stage(
    query: CallbackQuery,
    callback_data: DealCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    """One stage on; from negotiation the next one is "won", which asks the final amount."""
    deal = await deals.get_deal(session, user, callback_data.deal_id)
    target = deals.next_stage(deal.stage)
    if target is None or deal.version != callback_data.version:
        await _show_changed(query, deal.id, session, user, clock, settings)
    elif target is DealStage.WON:
        await _start_closing(query, deal, DealEdit.won_amount, state, session, user)
    else:
        await _move(query, callback_data, target, session, user, clock, settings)


@handlers.callback_query(DealCb.filter(F.action == DealAction.STAGES))
async def pick_stage(
    query: CallbackQuery,
    callback_data: DealCb,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    deal = await deals.get_deal(session, user, callback_data.deal_id)
    if deal.version != callback_data.version:
        await _show_changed(query, deal.id, session, user, clock, settings)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=stages_keyboard(deal))


@handlers.callback_query(DealCb.filter(F.action == DealAction.SET_STAGE))
async def stage_picked(
    query: CallbackQuery,
    callback_data: DealCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    """An open stage moves the deal (and reopens a closed one); won and lost ask first."""
    target = deals.stage_from(callback_data.value)
    deal = await deals.get_deal(session, user, callback_data.deal_id)
    if deal.version != callback_data.version or deal.stage is target:
        await _show_changed(query, deal.id, session, user, clock, settings)
    elif target is DealStage.WON:
        await _start_closing(query, deal, DealEdit.won_amount, state, session, user)
    elif target is DealStage.LOST:
        await _start_closing(query, deal, DealEdit.lost_reason, state, session, user)
    else:
        await _move(query, callback_data, target, session, user, clock, settings)


@handlers.callback_query(DealCb.filter(F.action.in_({DealAction.WON, DealAction.LOST})))
async def close_deal(
    query: CallbackQuery,
    callback_data: DealCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    deal = await deals.get_deal(session, user, callback_data.deal_id)
    won = callback_data.action is DealAction.WON
    closing = DealStage.WON if won else DealStage.LOST
    if deal.version != callback_data.version or deal.stage is closing:
        await _show_changed(query, deal.id, session, user, clock, settings)
        return
    target = DealEdit.won_amount if won else DealEdit.lost_reason
    await _start_closing(query, deal, target, state, session, user)


async def _start_closing(
    query: CallbackQuery,
    deal: Deal,
    target: State,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    """The won or lost questions remember the version the card showed."""
    await query.answer()
    if isinstance(query.message, Message):
        await state.set_data({"deal_id": deal.id, "version": deal.version})
        await go(target, query.message, state, session, user)


async def _asked_deal(state: FSMContext, session: AsyncSession, user: User) -> Deal:
    """The deal a card question is about, re-checked for access on every use."""
    deal_id = (await state.get_data()).get("deal_id")
    if not deal_id:
        await state.clear()
        raise NotFound()
    return await deals.get_deal(session, user, int(deal_id))


async def _finish_closing(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
    target: DealStage,
    **values: Any,
) -> None:
    data = await state.get_data()
    deal = await _asked_deal(state, session, user)
    try:
        deal = await deals.change_stage(
            session, user, deal.id, target, int(data.get("version", 0)), **values
        )
    except DealChanged as error:
        await state.clear()
        deal = await _current(session, user, deal.id)
        await send_deal(message, session, user, deal, clock.now(), settings, _(error.message))
        return
    await state.clear()
    note = _("🏆 Won!") if target is DealStage.WON else _("✖ Marked as lost.")
    await send_deal(message, session, user, deal, clock.now(), settings, note)


# Won: the final amount


@step(DealEdit.won_amount, expects_text=True)
async def ask_won_amount(message: Message, state: FSMContext, session: AsyncSession, user: User):
    deal = await _asked_deal(state, session, user)
    amount = _money(deal.amount_minor, deal.currency, user)
    await message.answer(
        _(
            "🏆 <b>{title}</b>: the final amount? Tap it if it stayed as planned, or type it."
        ).format(title=escape(deal.title)),
        reply_markup=won_keyboard(amount, deal.amount_minor),
    )


@handlers.message(DealEdit.won_amount, F.text)
async def won_amount_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    deal = await _asked_deal(state, session, user)
    amount, currency = money.parse_amount(message.text or "")
    if currency is not None and currency != deal.currency:
        raise InvalidInput(
            N_("This deal is in {currency}: type the amount in it."), currency=deal.currency
        )
    minor = deals.check_amount(amount)
    await _finish_closing(
        message, state, session, user, clock, settings, DealStage.WON, amount_minor=minor
    )


@handlers.callback_query(DealEdit.won_amount, FormCb.filter(F.action == FormAction.CHOOSE))
async def won_amount_chosen(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    value = callback_data.value
    if not value.isascii() or not value.isdigit() or len(value) > 15:
        raise InvalidInput()
    await query.answer()
    if message := await leave_question(query):
        await _finish_closing(
            message, state, session, user, clock, settings, DealStage.WON, amount_minor=int(value)
        )


# Lost: a reason from the admin's list, then an optional comment


@step(DealEdit.lost_reason, expects_text=False)
async def ask_lost_reason(message: Message, state: FSMContext, session: AsyncSession, user: User):
    deal = await _asked_deal(state, session, user)
    reasons = await catalog.pickable_items(session, ReferenceKind.LOST_REASON)
    if not reasons:  # the admin has not made the list yet: only the comment
        await go(DealEdit.lost_comment, message, state, session, user)
        return
    await message.answer(
        _("✖ <b>{title}</b>: why was it lost?").format(title=escape(deal.title)),
        reply_markup=reasons_keyboard(reasons),
    )


@handlers.callback_query(DealEdit.lost_reason, FormCb.filter(F.action == FormAction.CHOOSE))
async def lost_reason_chosen(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    reason = await catalog.pickable_item(
        session, ReferenceKind.LOST_REASON, _item_id(callback_data.value)
    )
    await query.answer()
    await state.update_data(lost_reason_id=reason.id)
    if message := await leave_question(query):
        await go(DealEdit.lost_comment, message, state, session, user)


@step(DealEdit.lost_comment, expects_text=True, back=DealEdit.lost_reason)
async def ask_lost_comment(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await message.answer(
        _("A comment? For example: “chose a cheaper supplier”."),
        reply_markup=optional_text_keyboard(skip_label=_("Skip ➡️")),
    )


@handlers.message(DealEdit.lost_comment, F.text)
async def lost_comment_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    comment = deals.clean_comment(message.text)
    await _finish_lost(message, state, session, user, clock, settings, comment)


@handlers.callback_query(DealEdit.lost_comment, FormCb.filter(F.action == FormAction.SKIP))
async def lost_comment_skipped(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    await query.answer()
    if message := await leave_question(query):
        await _finish_lost(message, state, session, user, clock, settings, None)


async def _finish_lost(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
    comment: str | None,
) -> None:
    reason_id = (await state.get_data()).get("lost_reason_id")
    await _finish_closing(
        message,
        state,
        session,
        user,
        clock,
        settings,
        DealStage.LOST,
        lost_reason_id=int(reason_id) if reason_id else None,
        comment=comment,
    )


def _item_id(value: str) -> int:
    """A list item's id from callback data, which is never trusted."""
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise InvalidInput()
    return int(value)


# Edit: a field, then its new value


@handlers.callback_query(DealCb.filter(F.action == DealAction.EDIT))
async def edit_fields(
    query: CallbackQuery, callback_data: DealCb, session: AsyncSession, user: User
) -> None:
    deal = await deals.get_deal(session, user, callback_data.deal_id)
    if not deal.stage.is_open:
        raise DealClosed()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=edit_fields_keyboard(deal))


@handlers.callback_query(DealCb.filter(F.action == DealAction.FIELD))
async def edit_field(
    query: CallbackQuery,
    callback_data: DealCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
) -> None:
    deal = await deals.get_deal(session, user, callback_data.deal_id)
    field = callback_data.value
    if field not in deals.EDITABLE_FIELDS:
        raise InvalidInput()
    if not deal.stage.is_open:
        raise DealClosed()
    await query.answer()
    if isinstance(query.message, Message):
        await state.set_data(
            {"deal_id": deal.id, "field": field, "quick": _quick(_today(user, clock.now()))}
        )
        await go(DealEdit.value, query.message, state, session, user)


def _quick(today: date) -> dict[str, str]:
    return {key: day.isoformat() for key, day in deals.quick_close_dates(today).items()}


def _shown_quick(data: dict[str, Any], user: User) -> dict[str, date]:
    """The quick close dates as first shown (a restart or Back shows the same days)."""
    quick = data.get("quick") or _quick(_today(user, utcnow()))
    return {key: date.fromisoformat(value) for key, value in quick.items()}


@step(DealEdit.value, expects_text=True)
async def ask_new_value(message: Message, state: FSMContext, session: AsyncSession, user: User):
    data = await state.get_data()
    deal = await _asked_deal(state, session, user)
    field = data.get("field")
    title = f"💼 <b>{escape(deal.title)}</b>\n"
    if field == "title":
        text = _("Title now: {value}\nSend the new title.").format(value=escape(deal.title))
        keyboard = nav_keyboard()
    elif field == "amount":
        current = _money(deal.amount_minor, deal.currency, user)
        text = _("Amount now: {value}\nSend the new amount, for example 150000, 150k, 1,5 млн.")
        text, keyboard = text.format(value=current), nav_keyboard()
    elif field == "product_line":
        items = await catalog.pickable_items(session, ReferenceKind.PRODUCT_LINE)
        current = deal.product_line.name if deal.product_line is not None else "—"
        text = _("Product line now: {value}\nPick the new one.").format(value=escape(current))
        keyboard = product_line_keyboard(items, skip_label=_("➖ None"), back=False)
    elif field == "close":
        current = day_text(deal.expected_close_on, user.locale) if deal.expected_close_on else "—"
        text = _("Expected close now: {value}\nTap a date or type one, for example 25.12.")
        text = text.format(value=current)
        keyboard = close_keyboard(_shown_quick(data, user), skip_label=_("➖ None"), back=False)
    elif field == "summary":
        current = shorten(deal.summary, SUMMARY_SHOWN_MAX) if deal.summary else "—"
        text = _("Summary now: {value}\nSend the new summary.").format(value=escape(current))
        keyboard = optional_text_keyboard(skip_label=_("➖ Clear"), back=False)
    else:  # data from an older version
        await state.clear()
        raise NotFound()
    await message.answer(title + text, reply_markup=keyboard, protect_content=True)


@handlers.message(DealEdit.value, F.text)
async def new_value_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    field = (await state.get_data()).get("field")
    deal = await _asked_deal(state, session, user)
    text = message.text or ""
    value: Any
    if field == "title":
        value = deals.clean_title(text)
    elif field == "amount":
        amount, currency = money.parse_amount(text)
        value = (deals.check_amount(amount), currency or deal.currency)
    elif field == "close":
        value = deals.parse_close(text, clock.now(), _zone(user))
    elif field == "summary":
        value = deals.clean_summary(text)
    else:
        raise InvalidInput(CHOOSE_A_BUTTON)
    await _save_edit(message, state, session, user, clock, settings, deal.id, str(field), value)


@handlers.callback_query(DealEdit.value, FormCb.filter(F.action == FormAction.CHOOSE))
async def new_value_chosen(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    field = (await state.get_data()).get("field")
    deal = await _asked_deal(state, session, user)
    value: Any
    if field == "product_line":
        value = _item_id(callback_data.value)
    elif field == "close":
        value = deals.close_from_iso(callback_data.value, _today(user, clock.now()))
    else:
        raise InvalidInput()
    await query.answer()
    if message := await leave_question(query):
        await _save_edit(message, state, session, user, clock, settings, deal.id, field, value)


@handlers.callback_query(DealEdit.value, FormCb.filter(F.action == FormAction.SKIP))
async def value_cleared(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    field = (await state.get_data()).get("field")
    deal = await _asked_deal(state, session, user)
    if field not in ("product_line", "close", "summary"):
        raise InvalidInput()
    await query.answer()
    if message := await leave_question(query):
        await _save_edit(message, state, session, user, clock, settings, deal.id, field, None)


async def _save_edit(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
    deal_id: int,
    field: str,
    value: Any,
) -> None:
    deal = await deals.update_deal(session, user, deal_id, field, value)
    await state.clear()
    await send_deal(message, session, user, deal, clock.now(), settings, _("Saved."))


# Log contact and history


@handlers.callback_query(DealCb.filter(F.action == DealAction.LOG))
async def log_contact(
    query: CallbackQuery,
    callback_data: DealCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    """The contact log about this deal: its client, then the usual questions."""
    deal = await deals.get_deal(session, user, callback_data.deal_id)
    await start_flow_for_client(
        query, deal.client_id, ContactLog.kind, state, session, user, deal_id=deal.id
    )


def history_text(found: deals.DealHistory, user: User) -> str:
    """Stage changes (who, when, from → to, the amount then) and the contacts about the deal,
    newest first, cut to what one message holds."""
    zone = _zone(user)
    deal = found.deal
    parts = [_("🕘 <b>History: {title}</b>").format(title=escape(deal.title))]
    stages = []
    for change in found.changes:
        when = parsing.format_when(change.created_at, zone, user.locale)
        who = escape(change.actor.full_name) if change.actor is not None else "—"
        amount = _money(change.amount_minor, deal.currency, user)
        if change.from_stage is None:
            move = _("created · {stage}").format(stage=stage_label(change.to_stage))
        else:
            move = f"{stage_label(change.from_stage)} → {stage_label(change.to_stage)}"
        line = f"• {when} · {who}: {move} · {amount}"
        if change.comment:
            line += f"\n  {escape(shorten(change.comment, 200))}"
        stages.append(line)
    parts.append(_("<b>Stages</b>") + "\n" + "\n".join(stages))
    if found.contacts:
        parts.append(_("<b>Contacts about this deal</b>"))
        parts += [history_entry(entry, user) for entry in found.contacts]
    text = parts[0]
    for part in parts[1:]:
        if len(text) + len(part) + 2 > HISTORY_TEXT_MAX:
            return text + "\n\n…"
        text += "\n\n" + part
    return text


@handlers.callback_query(DealCb.filter(F.action == DealAction.HISTORY))
async def show_history(
    query: CallbackQuery, callback_data: DealCb, session: AsyncSession, user: User
) -> None:
    found = await deals.history(session, user, callback_data.deal_id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            history_text(found, user), reply_markup=history_keyboard(found.deal)
        )


# A client's deals, from the client's card


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.DEALS))
async def client_deals(
    query: CallbackQuery, callback_data: ClientCb, session: AsyncSession, user: User
) -> None:
    page = max(callback_data.page, 0)
    client, found, total = await deals.client_deals(session, user, callback_data.client_id, page)
    await query.answer()
    title = _("💼 <b>Deals: {name}</b> ({count})").format(name=escape(client.name), count=total)
    if not total:
        title += "\n" + _("No deals yet.")
    shown = [
        (
            deal,
            deal_button_text(
                f"{stage_label(deal.stage)} · {deal.title} · "
                + money.format_money(deal.amount_minor, deal.currency, user.locale, compact=True)
            ),
        )
        for deal in found
    ]
    if isinstance(query.message, Message):
        await query.message.edit_text(
            title, reply_markup=client_deals_keyboard(client.id, shown, page, total)
        )


# A new deal: client, product line, title, amount, close date, summary, then 💾 Save


async def _after_client(session: AsyncSession) -> State:
    """The product line is asked only when the admin has made the list."""
    lines = await catalog.pickable_items(session, ReferenceKind.PRODUCT_LINE)
    return DealForm.product_line if lines else DealForm.title


async def _warn_about_complaints(
    message: Message, session: AsyncSession, user: User, client_id: int, now: datetime
) -> None:
    """A client with an open critical complaint: said before a new deal is talked about."""
    found = await complaints.client_summary(session, user, client_id, now)
    if found.critical:
        await message.answer(
            _(
                "⚠️ This client has open critical complaints: {count}. Keep it in mind "
                "before offering more."
            ).format(count=found.critical)
        )


@handlers.callback_query(PipelineCb.filter(F.action == PipelineAction.NEW))
async def new_deal(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User, settings: Settings
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await state.set_data({"default_currency": settings.default_currency})
        await go(DealForm.client, query.message, state, session, user)


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.NEW_DEAL))
async def new_deal_for_client(
    query: CallbackQuery,
    callback_data: ClientCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    client = await clients.get_client(session, user, callback_data.client_id)
    if isinstance(query.message, Message):
        await _warn_about_complaints(query.message, session, user, client.id, clock.now())
    target = await _after_client(session)
    await start_flow_for_client(
        query,
        callback_data.client_id,
        target,
        state,
        session,
        user,
        default_currency=settings.default_currency,
    )


@step(DealForm.client, expects_text=True)
async def ask_client(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await ask_for_client(message, session, user, _("💼 New deal. Which client?"))


async def client_chosen(
    message: Message, state: FSMContext, session: AsyncSession, user: User, clock: Clock
) -> None:
    client_id = int((await state.get_data())["client_id"])
    await _warn_about_complaints(message, session, user, client_id, clock.now())
    await go(await _after_client(session), message, state, session, user)


client_step(handlers, DealForm.client, ask_client, client_chosen)


async def _draft_client_name(state: FSMContext, session: AsyncSession, user: User) -> str:
    """The client chosen so far, re-checked for access on every use."""
    client_id = (await state.get_data()).get("client_id")
    if not client_id:
        raise NotFound()
    return (await clients.get_client(session, user, int(client_id))).name


@step(DealForm.product_line, expects_text=False, back=DealForm.client)
async def ask_product_line(message: Message, state: FSMContext, session: AsyncSession, user: User):
    items = await catalog.pickable_items(session, ReferenceKind.PRODUCT_LINE)
    if not items:  # Back from the title while the list is empty: the client again
        await go(DealForm.client, message, state, session, user)
        return
    name = await _draft_client_name(state, session, user)
    await message.answer(
        _("<b>{name}</b>: which product line?").format(name=escape(name)),
        reply_markup=product_line_keyboard(items, skip_label=_("Skip ➡️")),
    )


@handlers.callback_query(DealForm.product_line, FormCb.filter(F.action == FormAction.CHOOSE))
async def product_line_chosen(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    item = await catalog.pickable_item(
        session, ReferenceKind.PRODUCT_LINE, _item_id(callback_data.value)
    )
    await query.answer()
    await state.update_data(product_line_id=item.id, product_line_name=item.name)
    if message := await leave_question(query):
        await go(DealForm.title, message, state, session, user)


skip_step(
    handlers, DealForm.product_line, DealForm.title, product_line_id=None, product_line_name=None
)


@step(DealForm.title, expects_text=True, back=DealForm.product_line)
async def ask_title(message: Message, state: FSMContext, session: AsyncSession, user: User):
    name = await _draft_client_name(state, session, user)
    await message.answer(
        _("<b>{name}</b>: what is the deal? For example: “20 pumps for the new plant”.").format(
            name=escape(name)
        ),
        reply_markup=nav_keyboard(back=True),
    )


@handlers.message(DealForm.title, F.text)
async def title_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await state.update_data(title=deals.clean_title(message.text))
    await go(DealForm.amount, message, state, session, user)


@step(DealForm.amount, expects_text=True, back=DealForm.title)
async def ask_amount(message: Message, state: FSMContext, session: AsyncSession, user: User):
    currency = (await state.get_data()).get("default_currency") or "RUB"
    await message.answer(
        _(
            "The amount? Type it as you say it: 150000, 150 000, 150k, 1,5 млн. "
            "It is in {currency} unless you type another currency, like 5000 $."
        ).format(currency=money.symbol(currency)),
        reply_markup=nav_keyboard(back=True),
    )


@handlers.message(DealForm.amount, F.text)
async def amount_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User, clock: Clock
) -> None:
    """Bad input raises InvalidInput: the parser's message, the same question, nothing lost."""
    amount, currency = money.parse_amount(message.text or "")
    minor = deals.check_amount(amount)
    data = await state.get_data()
    await state.update_data(
        amount=minor,
        currency=currency or data.get("default_currency") or "RUB",
        quick=_quick(_today(user, clock.now())),
    )
    await go(DealForm.close, message, state, session, user)


@step(DealForm.close, expects_text=True, back=DealForm.amount)
async def ask_close(message: Message, state: FSMContext, session: AsyncSession, user: User):
    quick = _shown_quick(await state.get_data(), user)
    await message.answer(
        _(
            "When do you expect to close it? Tap a date, or type one, for example 25.12 or "
            "in 3 weeks."
        ),
        reply_markup=close_keyboard(quick, skip_label=_("Skip ➡️")),
    )


@handlers.message(DealForm.close, F.text)
async def close_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User, clock: Clock
) -> None:
    day = deals.parse_close(message.text or "", clock.now(), _zone(user))
    await state.update_data(close=day.isoformat())
    await go(DealForm.summary, message, state, session, user)


@handlers.callback_query(DealForm.close, FormCb.filter(F.action == FormAction.CHOOSE))
async def close_chosen(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
) -> None:
    day = deals.close_from_iso(callback_data.value, _today(user, clock.now()))
    await query.answer()
    await state.update_data(close=day.isoformat())
    if message := await leave_question(query):
        await go(DealForm.summary, message, state, session, user)


skip_step(handlers, DealForm.close, DealForm.summary, close=None)


@step(DealForm.summary, expects_text=True, back=DealForm.close)
async def ask_summary(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await message.answer(
        _("A short summary: what the client needs, what was agreed?"),
        reply_markup=optional_text_keyboard(skip_label=_("Skip ➡️")),
    )


@handlers.message(DealForm.summary, F.text)
async def summary_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await state.update_data(summary=deals.clean_summary(message.text))
    await go(DealForm.review, message, state, session, user)


skip_step(handlers, DealForm.summary, DealForm.review, summary=None)


def draft_text(client_name: str, data: dict[str, Any], user: User) -> str:
    """What will be saved, every value escaped."""
    lines = [_("Client: {name}").format(name=escape(client_name))]
    if data.get("product_line_name"):
        lines.append(_("Product line: {name}").format(name=escape(data["product_line_name"])))
    lines.append(_("Title: {title}").format(title=escape(data.get("title", ""))))
    amount = _money(int(data.get("amount", 0)), data.get("currency", "RUB"), user)
    lines.append(_("Amount: {amount}").format(amount=amount))
    if data.get("close"):
        shown = day_text(date.fromisoformat(data["close"]), user.locale)
        lines.append(_("Expected close: {date}").format(date=shown))
    if data.get("summary"):
        summary = escape(shorten(data["summary"], SUMMARY_SHOWN_MAX))
        lines.append(_("Summary: {summary}").format(summary=summary))
    return "\n".join(lines)


@step(DealForm.review, expects_text=False, back=DealForm.summary)
async def ask_review(message: Message, state: FSMContext, session: AsyncSession, user: User):
    data = await state.get_data()
    if missing := _missing_step(data):
        await go(missing, message, state, session, user)
        return
    name = await _draft_client_name(state, session, user)
    await message.answer(
        _("<b>Check and save</b>") + "\n" + draft_text(name, data, user),
        reply_markup=review_keyboard(),
        protect_content=True,
    )


def _missing_step(data: dict[str, Any]) -> State | None:
    """The first step whose answer is missing (data from an older version), or None."""
    if not data.get("client_id"):
        return DealForm.client
    if not data.get("title"):
        return DealForm.title
    if not data.get("amount") or not data.get("currency"):
        return DealForm.amount
    return None


@handlers.callback_query(DealForm.review, FormCb.filter(F.action == FormAction.SAVE))
async def save(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    data = await state.get_data()
    if missing := _missing_step(data):
        await query.answer()
        if message := await leave_question(query):
            await go(missing, message, state, session, user)
        return
    draft = DealDraft(
        client_id=int(data["client_id"]),
        title=data["title"],
        amount_minor=int(data["amount"]),
        currency=data["currency"],
        product_line_id=data.get("product_line_id"),
        expected_close_on=date.fromisoformat(data["close"]) if data.get("close") else None,
        summary=data.get("summary"),
    )
    deal = await deals.create_deal(session, user, draft)
    await state.clear()
    await query.answer(_("Saved ✅"))
    if isinstance(query.message, Message):
        await edit_deal(query.message, session, user, deal, clock.now(), settings, _("Saved ✅"))
