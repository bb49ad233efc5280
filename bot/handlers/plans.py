"""📋 Plans: heads set monthly targets for their managers, admins for departments; each member's
plan against fact; last month copied, or last year's same month +N%.

Months are calendar months in the viewer's time zone; revenue plans are in the default
currency. FSM data (JSON only, so a restart mid-flow continues): month, subject, subject_id,
name, currency, and the figures typed so far (revenue in minor units, deals, interactions),
which start as the current plan so Skip keeps a value.
"""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.flows import go, step
from bot.handlers.common import leave_question, skip_step
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import FormAction, FormCb, PlanAction, PlanCb
from bot.keyboards.common import skip_keyboard
from bot.keyboards.plans import growth_keyboard, member_keyboard, plans_keyboard
from bot.services import money, plans
from bot.services.errors import N_, InvalidInput, NotFound
from bot.services.plans import Figures, PlanFact
from bot.states import PlanForm
from bot.texts import shorten
from db.models import PlanSubject, User

handlers = Handlers("plans")

MEMBERS_MAX = 20  # members whose figures are listed (a message holds 4096 characters)
BUTTONS_MAX = 80  # members with a button (a keyboard holds 100)
NAME_MAX = 40


# Texts shared with the pipeline screen


def zone(user: User) -> ZoneInfo:
    return ZoneInfo(user.timezone)


def current_month(user: User, clock: Clock) -> str:
    return plans.month_of(clock.now().astimezone(zone(user)).date())


def month_label(month: str, user: User, *, year: bool = True) -> str:
    """ "November 2026" / "Ноябрь 2026" (the month's standalone name)."""
    text = format_date(plans.parse_month(month), "LLLL yyyy" if year else "LLLL", user.locale)
    return text[:1].upper() + text[1:]


def percent_text(percent: int | None) -> str:
    return f"{percent}%" if percent is not None else "—"


def _money(minor: int, currency: str, user: User, *, compact: bool) -> str:
    return money.format_money(minor, currency, user.locale, compact=compact)


def plan_fact_lines(fact: PlanFact, user: User, currency: str) -> list[str]:
    """The pipeline's headline: "November: 1.2M ₽ of 2M ₽, 60%, working days left: 8"."""
    month = month_label(fact.month, user, year=False)
    revenue = _money(fact.fact.revenue_minor, currency, user, compact=True)
    if fact.plan is None:
        return [
            _("📅 <b>{month}</b>: no plan yet. Won {revenue}, working days left: {days}").format(
                month=month, revenue=revenue, days=fact.working_days_left
            ),
            _("Deals won: {deals} · contacts: {contacts}").format(
                deals=fact.fact.deals_won, contacts=fact.fact.interactions
            ),
        ]
    return [
        _("📅 <b>{month}</b>: {revenue} of {plan}, {percent}, working days left: {days}").format(
            month=month,
            revenue=revenue,
            plan=_money(fact.plan.revenue_minor, currency, user, compact=True),
            percent=percent_text(fact.revenue_percent),
            days=fact.working_days_left,
        ),
        _("Deals won: {deals} of {deals_plan} · contacts: {contacts} of {contacts_plan}").format(
            deals=fact.fact.deals_won,
            deals_plan=fact.plan.deals_won,
            contacts=fact.fact.interactions,
            contacts_plan=fact.plan.interactions,
        ),
    ]


def team_line(name: str, fact: PlanFact, user: User, currency: str) -> str:
    revenue = _money(fact.fact.revenue_minor, currency, user, compact=True)
    if fact.plan is None:
        return _(
            "<b>{name}</b>: no plan · won {revenue} · deals won: {deals} · contacts: {contacts}"
        ).format(
            name=escape(shorten(name, NAME_MAX)),
            revenue=revenue,
            deals=fact.fact.deals_won,
            contacts=fact.fact.interactions,
        )
    return _(
        "<b>{name}</b>: {revenue} of {plan} ({percent}) · deals won: {deals} of {deals_plan} · "
        "contacts: {contacts} of {contacts_plan}"
    ).format(
        name=escape(shorten(name, NAME_MAX)),
        revenue=revenue,
        plan=_money(fact.plan.revenue_minor, currency, user, compact=True),
        percent=percent_text(fact.revenue_percent),
        deals=fact.fact.deals_won,
        deals_plan=fact.plan.deals_won,
        contacts=fact.fact.interactions,
        contacts_plan=fact.plan.interactions,
    )


def member_text(name: str, fact: PlanFact, user: User, currency: str) -> str:
    """One member's plan in full amounts (a target is typed exactly, so it is shown exactly)."""
    lines = [f"📋 <b>{escape(name)}</b> · {month_label(fact.month, user)}"]
    revenue = _money(fact.fact.revenue_minor, currency, user, compact=False)
    if fact.plan is None:
        lines += [
            _("No plan for this month yet."),
            _("Won: {revenue} · deals won: {deals} · contacts: {contacts}").format(
                revenue=revenue, deals=fact.fact.deals_won, contacts=fact.fact.interactions
            ),
        ]
    else:
        lines += [
            _("Revenue: {fact} of {plan} ({percent})").format(
                fact=revenue,
                plan=_money(fact.plan.revenue_minor, currency, user, compact=False),
                percent=percent_text(fact.revenue_percent),
            ),
            _("Deals won: {fact} of {plan} ({percent})").format(
                fact=fact.fact.deals_won,
                plan=fact.plan.deals_won,
                percent=percent_text(fact.deals_percent),
            ),
            _("Contacts: {fact} of {plan} ({percent})").format(
                fact=fact.fact.interactions,
                plan=fact.plan.interactions,
                percent=percent_text(fact.interactions_percent),
            ),
        ]
    lines.append(_("Working days left: {days}").format(days=fact.working_days_left))
    return "\n".join(lines)


# The team's plans of a month


def _month(value: str, user: User, clock: Clock) -> str:
    """The month of a button (never trusted), or the current one in the viewer's zone."""
    if not value:
        return current_month(user, clock)
    return plans.month_of(plans.parse_month(value))


async def plans_view(
    session: AsyncSession, user: User, month: str, clock: Clock, settings: Settings
) -> tuple[str, InlineKeyboardMarkup]:
    subject, members = await plans.team(session, user)
    shown = members[:MEMBERS_MAX]
    today = clock.now().astimezone(zone(user)).date()
    currency = settings.default_currency
    facts = await plans.plan_vs_fact(
        session, user, subject, [i for i, _n in shown], month, today, zone(user), currency
    )
    lines = [
        _("📋 <b>Plans: {month}</b> · working days left: {days}").format(
            month=month_label(month, user), days=plans.working_days_left(month, today)
        ),
        "",
    ]
    lines += [team_line(name, facts[i], user, currency) for i, name in shown]
    if not members:
        lines.append(
            _("No departments yet.")
            if subject is PlanSubject.DEPARTMENT
            else _("No managers in your department yet.")
        )
    elif len(members) > len(shown):
        lines.append(
            _("…and {count} more: tap a name below.").format(count=len(members) - len(shown))
        )
    else:
        lines += ["", _("Tap a name to see or set the plan.")]
    previous, following = plans.shift_month(month, -1), plans.shift_month(month, 1)
    keyboard = plans_keyboard(
        month,
        members[:BUTTONS_MAX],
        (previous, month_label(previous, user, year=False)),
        (following, month_label(following, user, year=False)),
    )
    return "\n".join(lines), keyboard


async def _edit(query: CallbackQuery, view: tuple[str, InlineKeyboardMarkup]) -> None:
    if isinstance(query.message, Message):
        await query.message.edit_text(view[0], reply_markup=view[1])


@handlers.callback_query(PlanCb.filter(F.action == PlanAction.HOME))
async def plans_home(
    query: CallbackQuery,
    callback_data: PlanCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    month = _month(callback_data.month, user, clock)
    view = await plans_view(session, user, month, clock, settings)
    await state.clear()
    await query.answer()
    await _edit(query, view)


# One member


async def _member(session: AsyncSession, user: User, subject_id: int) -> tuple[PlanSubject, str]:
    """A member of the viewer's team (a head's manager, an admin's department), or NotFound."""
    subject, members = await plans.team(session, user)
    name = dict(members).get(subject_id)
    if name is None:
        raise NotFound()
    return subject, name


async def member_view(
    session: AsyncSession,
    user: User,
    subject_id: int,
    month: str,
    clock: Clock,
    settings: Settings,
) -> tuple[str, InlineKeyboardMarkup]:
    subject, name = await _member(session, user, subject_id)
    today = clock.now().astimezone(zone(user)).date()
    currency = settings.default_currency
    found = await plans.plan_vs_fact(
        session, user, subject, [subject_id], month, today, zone(user), currency
    )
    return member_text(name, found[subject_id], user, currency), member_keyboard(month, subject_id)


@handlers.callback_query(PlanCb.filter(F.action == PlanAction.OPEN))
async def open_member(
    query: CallbackQuery,
    callback_data: PlanCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    month = _month(callback_data.month, user, clock)
    view = await member_view(session, user, callback_data.subject_id, month, clock, settings)
    await state.clear()
    await query.answer()
    await _edit(query, view)


# Setting a plan: revenue, deals won, contacts (Skip keeps the current value)


@handlers.callback_query(PlanCb.filter(F.action == PlanAction.SET))
async def set_plan(
    query: CallbackQuery,
    callback_data: PlanCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    month = _month(callback_data.month, user, clock)
    subject, name = await _member(session, user, callback_data.subject_id)
    await plans.check_subject(session, user, subject, callback_data.subject_id, write=True)
    plan = await plans.get_plan(session, subject, callback_data.subject_id, month)
    await query.answer()
    if message := await leave_question(query):
        await state.set_data(
            {
                "month": month,
                "subject": subject.value,
                "subject_id": callback_data.subject_id,
                "name": name,
                "currency": settings.default_currency,
                "revenue": plan.revenue_minor if plan else 0,
                "deals": plan.deals_won if plan else 0,
                "interactions": plan.interactions if plan else 0,
            }
        )
        await go(PlanForm.revenue, message, state, session, user)


def _heading(data: dict, user: User) -> str:
    month = month_label(data.get("month", ""), user) if data.get("month") else ""
    return f"✏️ <b>{escape(data.get('name', ''))}</b> · {month}"


@step(PlanForm.revenue, expects_text=True)
async def ask_revenue(message: Message, state: FSMContext, session, user: User) -> None:
    data = await state.get_data()
    currency = data.get("currency", "RUB")
    now = money.format_money(int(data.get("revenue", 0)), currency, user.locale)
    question = _(
        "Revenue from deals won, in {currency}? For example: 2 млн, 1 500 000.\nNow: {now}."
    ).format(currency=money.symbol(currency), now=now)
    await message.answer(
        f"{_heading(data, user)}\n{question}", reply_markup=skip_keyboard(back=False)
    )


@handlers.message(PlanForm.revenue, F.text)
async def revenue_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    currency = (await state.get_data()).get("currency", "RUB")
    amount, typed_currency = money.parse_amount(message.text or "")
    if typed_currency is not None and typed_currency != currency:
        raise InvalidInput(
            N_("Plans are in {currency}: type the amount without another currency."),
            currency=money.symbol(currency),
        )
    await state.update_data(revenue=money.to_minor(amount))
    await go(PlanForm.deals, message, state, session, user)


skip_step(handlers, PlanForm.revenue, PlanForm.deals)


@step(PlanForm.deals, expects_text=True, back=PlanForm.revenue)
async def ask_deals(message: Message, state: FSMContext, session, user: User) -> None:
    data = await state.get_data()
    question = _("How many deals won? Now: {now}.").format(now=data.get("deals", 0))
    await message.answer(f"{_heading(data, user)}\n{question}", reply_markup=skip_keyboard())


@handlers.message(PlanForm.deals, F.text)
async def deals_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await state.update_data(deals=plans.parse_count(message.text or ""))
    await go(PlanForm.interactions, message, state, session, user)


skip_step(handlers, PlanForm.deals, PlanForm.interactions)


@step(PlanForm.interactions, expects_text=True, back=PlanForm.deals)
async def ask_interactions(message: Message, state: FSMContext, session, user: User) -> None:
    data = await state.get_data()
    question = _("How many contacts logged (calls, meetings, visits)? Now: {now}.").format(
        now=data.get("interactions", 0)
    )
    await message.answer(f"{_heading(data, user)}\n{question}", reply_markup=skip_keyboard())


@handlers.message(PlanForm.interactions, F.text)
async def interactions_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    await state.update_data(interactions=plans.parse_count(message.text or ""))
    await _save(message, state, session, user, clock, settings)


@handlers.callback_query(PlanForm.interactions, FormCb.filter(F.action == FormAction.SKIP))
async def interactions_skipped(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    await query.answer()
    if message := await leave_question(query):
        await _save(message, state, session, user, clock, settings)


async def _save(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    data = await state.get_data()
    if "subject_id" not in data:  # data from an older version: nothing to save
        await state.clear()
        await message.answer(_("Let's start over: choose a section."))
        return
    figures = Figures(int(data["revenue"]), int(data["deals"]), int(data["interactions"]))
    subject_id = int(data["subject_id"])
    await plans.set_plan(
        session, user, PlanSubject(data["subject"]), subject_id, data["month"], figures
    )
    await state.clear()
    text, keyboard = await member_view(session, user, subject_id, data["month"], clock, settings)
    await message.answer(_("Saved ✅") + "\n\n" + text, reply_markup=keyboard)


# Last month's plans, or last year's same month +N%


@handlers.callback_query(PlanCb.filter(F.action == PlanAction.COPY))
async def copy_last_month(
    query: CallbackQuery,
    callback_data: PlanCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    month = _month(callback_data.month, user, clock)
    copied = await plans.copy_last_month(session, user, month)
    previous = month_label(plans.shift_month(month, -1), user)
    if copied:
        note = _("Copied from {month}: {count}.").format(count=copied, month=previous)
    else:
        note = _("{month} has no plans to copy.").format(month=previous)
    text, keyboard = await plans_view(session, user, month, clock, settings)
    await state.clear()
    await query.answer(note)
    if isinstance(query.message, Message):
        await query.message.edit_text(f"{note}\n\n{text}", reply_markup=keyboard)


@handlers.callback_query(PlanCb.filter(F.action == PlanAction.GROW))
async def grow(
    query: CallbackQuery,
    callback_data: PlanCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
) -> None:
    month = _month(callback_data.month, user, clock)
    await plans.team(session, user)  # heads and admins only
    await query.answer()
    if isinstance(query.message, Message):
        await state.set_data({"month": month})
        await go(PlanForm.growth, query.message, state, session, user)


@step(PlanForm.growth, expects_text=True)
async def ask_growth(message: Message, state: FSMContext, session, user: User) -> None:
    month = (await state.get_data()).get("month", "")
    await message.answer(
        _(
            "📈 Plans for {month}: each one's figures of {last_year} plus how many per cent? "
            "Tap or type a number, for example: 10."
        ).format(
            month=month_label(month, user),
            last_year=month_label(plans.shift_month(month, -12), user),
        ),
        reply_markup=growth_keyboard(month),
    )


async def _grow(
    session: AsyncSession,
    user: User,
    month: str,
    percent: int,
    clock: Clock,
    settings: Settings,
) -> tuple[str, InlineKeyboardMarkup]:
    count = await plans.grow_from_last_year(
        session, user, month, percent, zone(user), settings.default_currency
    )
    last_year = month_label(plans.shift_month(month, -12), user)
    if count:
        note = _("Set from {month} +{percent}%: {count}.").format(
            count=count, month=last_year, percent=percent
        )
    else:
        note = _("No figures in {month} to grow from: nothing changed.").format(month=last_year)
    text, keyboard = await plans_view(session, user, month, clock, settings)
    return f"{note}\n\n{text}", keyboard


@handlers.message(PlanForm.growth, F.text)
async def growth_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    percent = plans.parse_percent(message.text or "")
    month = (await state.get_data()).get("month") or current_month(user, clock)
    text, keyboard = await _grow(session, user, month, percent, clock, settings)
    await state.clear()
    await message.answer(text, reply_markup=keyboard)


@handlers.callback_query(PlanCb.filter(F.action == PlanAction.GROW_BY))
async def growth_chosen(
    query: CallbackQuery,
    callback_data: PlanCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    month = _month(callback_data.month, user, clock)
    percent = plans.parse_percent(callback_data.value)
    text, keyboard = await _grow(session, user, month, percent, clock, settings)
    await state.clear()
    await query.answer()
    await _edit(query, (text, keyboard))
