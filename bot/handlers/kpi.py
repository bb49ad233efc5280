"""📊 KPI: the figures of a period against the period before, with one chart; /digest.

A manager sees their own figures. A head opens on their department (the team leaderboard) and
picks one manager or a breakdown by product line, industry, region or lead source, whose rows
open that slice. An admin opens on the company and also picks a department or a breakdown by
department. Periods: day, week, month, quarter, ◀ previous / next ▶.

A screen is a text message and then the chart as a photo (or one line when there is nothing to
draw), each protected from forwarding: they hold people's figures and clients' names. The
screen travels in the buttons' KpiCb as ids only; kpi.check_slice checks them for every screen,
so a forged button gets "not found" and nothing is sent. Buttons send a new screen rather than
edit the old one: a text and a photo cannot be edited into each other.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import digest, render
from bot.clock import Clock
from bot.config import Settings
from bot.digest import NAME_MAX, chart_footer, dashboard_lines, money, period_text, row_label
from bot.flows import go, step
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import KpiCb, KpiView
from bot.keyboards.common import nav_keyboard
from bot.keyboards.kpi import (
    ITEM_DIMENSIONS,
    breakdown_keyboard,
    code,
    dashboard_keyboard,
    dimension_label,
    dimension_of,
)
from bot.render import Chart, Picture, picture
from bot.services import catalog, kpi, users
from bot.services.errors import InvalidInput, NotFound
from bot.services.kpi import BreakdownRow, Dashboard, Dimension, Period, PeriodKind, Slice
from bot.states import KpiForm
from bot.texts import interaction_kind_label, one_line
from db.models import InteractionKind, Role, User
from db.repositories import ReferenceRepository
from db.session import end_read_transaction

handlers = Handlers("kpi")

MAX_AGO = 120  # periods back a button may ask for
EPOCH = date(2000, 1, 1)  # a custom range's first day travels as days since this one
ROWS_SHOWN = 25  # rows of a breakdown in its text (a message holds 4096 characters)
BUTTONS_MAX = 40  # rows of a breakdown with a button
TOP_N = 8  # bars of a breakdown chart before "other"


@dataclass(frozen=True)
class Screen:
    text: str
    keyboard: InlineKeyboardMarkup
    picture: Picture | None  # the chart, drawn by the chart worker; None: this screen has none


# What the buttons carry


def when(data: KpiCb) -> dict[str, object]:
    """The period fields of a button, for the buttons of the screens it leads to."""
    return {"period": data.period, "ago": data.ago, "since": data.since, "days": data.days}


def period_of(data: KpiCb, user: User, now: datetime) -> Period:
    """The period a button asks for: its kind, `ago` periods before the current one (a custom
    range: `ago` times its own length before)."""
    kind = kpi.period_kind(data.period)
    if not 0 <= data.ago <= MAX_AGO:
        raise InvalidInput()
    tz = ZoneInfo(user.timezone)
    if kind is PeriodKind.CUSTOM:
        if not 0 < data.days <= kpi.CUSTOM_DAYS_MAX or data.since < 0:
            raise InvalidInput()
        first = EPOCH + timedelta(days=data.since - data.ago * data.days)
        return Period.custom(first, first + timedelta(days=data.days - 1), tz)
    today = now.astimezone(tz).date()
    if kind is PeriodKind.DAY:
        anchor = today - timedelta(days=data.ago)
    elif kind is PeriodKind.WEEK:
        anchor = today - timedelta(weeks=data.ago)
    else:
        months = data.ago * (3 if kind is PeriodKind.QUARTER else 1)
        index = today.year * 12 + today.month - 1 - months
        anchor = date(index // 12, index % 12 + 1, 1)
    return Period.of(kind, anchor, tz)


def slice_of(data: KpiCb) -> Slice:
    """Whose figures: one person, a department or (neither) the company, narrowed to one
    product line, industry, region or lead source when `item` is set."""
    narrow: dict[str, int] = {}
    if data.item:
        dimension = dimension_of(data.dimension)
        if dimension not in ITEM_DIMENSIONS:
            raise InvalidInput()
        narrow[f"{dimension.value}_id"] = data.item
    return Slice(owner_id=data.owner or None, department_id=data.department or None, **narrow)


def home(user: User) -> KpiCb:
    """What 📊 KPI opens on: a manager's own figures, a head's department, the company for an
    admin; this month."""
    if user.role is Role.ADMIN:
        return KpiCb(view=KpiView.DASHBOARD)
    if user.role is Role.HEAD and user.department_id is not None:
        return KpiCb(view=KpiView.DASHBOARD, department=user.department_id)
    return KpiCb(view=KpiView.DASHBOARD, owner=user.id)


async def _title(session: AsyncSession, user: User, slice: Slice) -> tuple[str, User | None]:
    """Whose figures (plain text), and the person when it is one; after kpi checked the slice."""
    owner = None
    if slice.owner_id is not None:
        owner = user
        if slice.owner_id != user.id:
            owner = await users.get_visible(session, user, slice.owner_id)
        title = owner.full_name
    elif slice.department_id is not None:
        if user.department is not None and user.department_id == slice.department_id:
            title = user.department.name
        else:
            title = (await catalog.get_department(session, user, slice.department_id)).name
    else:
        title = _("Company")
    items = [getattr(slice, f"{dimension.value}_id") for dimension in ITEM_DIMENSIONS]
    item_id = next((item for item in items if item is not None), None)
    if item_id is not None:
        # kpi.check_slice has checked it is an item of the right list.
        item = await ReferenceRepository(session).get(item_id)
        title += f" · {item.name if item else '—'}"
    return title, owner


# Dashboards


def _breakdowns(user: User, slice: Slice) -> list[Dimension]:
    """The breakdowns a dashboard offers: a team's or the company's, for heads and admins."""
    if user.role is Role.MANAGER or slice.owner_id is not None or not slice.people_only:
        return []
    first = Dimension.DEPARTMENT if slice.company else Dimension.MANAGER
    return [first, *ITEM_DIMENSIONS]


def _up(user: User, data: KpiCb, owner: User | None) -> tuple[str, KpiCb] | None:
    """The way back after a drill-down: to the breakdown, the team or the company."""
    period = when(data)
    if data.item:
        return _("← Back"), data.model_copy(update={"view": KpiView.BREAKDOWN, "item": 0})
    if owner is not None and user.role is not Role.MANAGER:
        mine = user.role is Role.ADMIN or owner.department_id == user.department_id
        if owner.department_id is not None and mine:
            team = KpiCb(view=KpiView.DASHBOARD, department=owner.department_id, **period)
            return _("← Team"), team
        if user.role is Role.ADMIN:
            return _("← Company"), KpiCb(view=KpiView.DASHBOARD, **period)
        return None
    if data.department and not data.owner and user.role is Role.ADMIN:
        return _("← Company"), KpiCb(view=KpiView.DASHBOARD, **period)
    return None


def _kind_name(kind: InteractionKind) -> str:
    """ "Call" without its emoji: the chart's font has none."""
    return interaction_kind_label(kind).split(maxsplit=1)[-1]


async def _personal_chart(
    session: AsyncSession,
    user: User,
    slice: Slice,
    board: Dashboard,
    currency: str,
    today: date,
) -> Picture:
    """Month: revenue won so far against the plan's pace; other periods: contacts by day."""
    period, footer = board.current.period, chart_footer(board.current.period, user)
    if period.kind is PeriodKind.MONTH:
        by_day = await kpi.revenue_by_day(session, user, slice, period, currency=currency)
        days = [day for day in by_day if day <= today]
        cumulative = list(itertools.accumulate(by_day[day] for day in days))
        plan = board.current.sales.plan
        plan_minor = plan.plan.revenue_minor if plan is not None and plan.plan else None
        title = _("Revenue against plan") if plan_minor else _("Revenue won")
        return picture(
            Chart.REVENUE_VS_PLAN,
            days,
            cumulative,
            plan_minor,
            currency,
            user.locale,
            title,
            footer,
            _("Plan"),
            _("Won"),
        )
    # None (contacts are not counted by product line) draws nothing, like an empty period.
    found = await kpi.activity_by_day(session, user, slice, period) or {}
    days = list(found)
    series = [(_kind_name(kind), [found[day][kind] for day in days]) for kind in InteractionKind]
    title = _("Contacts by day")
    return picture(Chart.ACTIVITY_BY_DAY, days, series, user.locale, title, footer)


def _leaderboard(
    rows: list[BreakdownRow], dimension: Dimension, user: User, period: Period, currency: str
) -> Picture:
    title = (
        _("Revenue and plan by department")
        if dimension is Dimension.DEPARTMENT
        else _("Revenue and plan by manager")
    )
    bars = [(row_label(row, dimension), row.revenue_minor, row.plan_percent) for row in rows]
    footer = chart_footer(period, user)
    return picture(
        Chart.LEADERBOARD, bars, currency, user.locale, title, footer, _("Plan attainment")
    )


async def dashboard_screen(
    session: AsyncSession, user: User, data: KpiCb, now: datetime, settings: Settings
) -> Screen:
    currency = settings.default_currency
    period, slice = period_of(data, user, now), slice_of(data)
    board = await kpi.dashboard(
        session, user, slice, period, stale_days=settings.stale_days, currency=currency, now=now
    )
    title, owner = await _title(session, user, slice)
    lines = [
        f"📊 <b>{escape(title)}</b>",
        _("{period} · compared with {before}").format(
            period=period_text(period, user.locale),
            before=period_text(board.previous.period, user.locale),
        ),
        "",
        *dashboard_lines(board, currency, user.locale, stale_days=settings.stale_days),
    ]
    if slice.owner_id is not None or (slice.company and slice.people_only):
        today = now.astimezone(period.tz).date()
        chart = await _personal_chart(session, user, slice, board, currency, today)
    else:  # a team, or a slice of it: who sold what
        by = Dimension.MANAGER if slice.department_id is not None else Dimension.DEPARTMENT
        rows = await kpi.breakdown(session, user, slice, period, by, currency=currency)
        chart = _leaderboard(rows, by, user, period, currency)
    keyboard = dashboard_keyboard(data, _breakdowns(user, slice), _up(user, data, owner))
    return Screen("\n".join(lines), keyboard, chart)


# Breakdowns


def _breakdown_title(dimension: Dimension) -> str:
    return {
        Dimension.PRODUCT_LINE: _("Revenue by product line"),
        Dimension.INDUSTRY: _("Revenue by industry"),
        Dimension.REGION: _("Revenue by region"),
        Dimension.LEAD_SOURCE: _("Revenue by lead source"),
    }[dimension]


def _row_text(row: BreakdownRow, label: str, user: User, currency: str) -> str:
    contacts = "—" if row.contacts is None else str(row.contacts)
    figures = [money(row.revenue_minor, currency, user.locale), str(row.won), str(row.opened)]
    text = f"<b>{escape(one_line(label, NAME_MAX))}</b>: {' · '.join([*figures, contacts])}"
    if row.plan_percent is not None:
        text += " · " + _("plan {percent}%").format(percent=row.plan_percent)
    return text


def _target(data: KpiCb, dimension: Dimension, key: int) -> KpiCb:
    """The dashboard a breakdown's row opens."""
    base = KpiCb(view=KpiView.DASHBOARD, **when(data))
    if dimension is Dimension.MANAGER:
        return base.model_copy(update={"owner": key})
    if dimension is Dimension.DEPARTMENT:
        return base.model_copy(update={"department": key})
    update = {"owner": data.owner, "department": data.department, "item": key}
    return base.model_copy(update={**update, "dimension": code(dimension)})


async def breakdown_screen(
    session: AsyncSession, user: User, data: KpiCb, now: datetime, settings: Settings
) -> Screen:
    currency, dimension = settings.default_currency, dimension_of(data.dimension)
    period = period_of(data, user, now)
    slice = Slice(owner_id=data.owner or None, department_id=data.department or None)
    rows = await kpi.breakdown(session, user, slice, period, dimension, currency=currency)
    title, _owner = await _title(session, user, slice)
    lines = [
        f"{dimension_label(dimension)} · <b>{escape(title)}</b>",
        period_text(period, user.locale),
        _("revenue won · deals won · opened · contacts"),
        "",
    ]
    shown, other = kpi.top(rows, ROWS_SHOWN)
    for number, row in enumerate(shown, start=1):
        lines.append(f"{number}. " + _row_text(row, row_label(row, dimension), user, currency))
    if other is not None:
        label = _("Other ({count})").format(count=len(rows) - len(shown))
        lines.append(_row_text(other, label, user, currency))
    if not rows:
        lines.append(_("Nothing here for this period."))
    targets = [
        (row_label(row, dimension), _target(data, dimension, row.key))
        for row in rows
        if row.key is not None
    ][:BUTTONS_MAX]
    back = KpiCb(view=KpiView.DASHBOARD, owner=data.owner, department=data.department, **when(data))
    chart: Picture | None = None  # managers: a list to pick from; the team's chart is a tap back
    if dimension is Dimension.DEPARTMENT:
        chart = _leaderboard(rows, dimension, user, period, currency)
    elif dimension in ITEM_DIMENSIONS:
        bars = [(row_label(row, dimension), row.revenue_minor) for row in rows]
        chart = picture(
            Chart.BREAKDOWN,
            bars,
            user.locale,
            _breakdown_title(dimension),
            chart_footer(period, user),
            _("Other"),
            top_n=TOP_N,
            money=(currency,),
        )
    return Screen("\n".join(lines), breakdown_keyboard(data, targets, back), chart)


# Sending


async def show(message: Message, screen: Screen) -> None:
    """The text, then the chart with the buttons under it (or one line when there is nothing
    to draw); the chart is drawn with no transaction open."""
    if screen.picture is None:
        await message.answer(screen.text, reply_markup=screen.keyboard, protect_content=True)
        return
    await end_read_transaction()
    png, drawn = await render.render_or_skip(screen.picture)
    await message.answer(screen.text, protect_content=True)
    if png is None:
        instead = (
            _("📊 Nothing to draw for this period.")
            if drawn
            else _("📊 The chart could not be drawn this time; the figures above are complete.")
        )
        await message.answer(instead, reply_markup=screen.keyboard, protect_content=True)
        return
    await message.answer_photo(
        BufferedInputFile(png, filename="kpi.png"),
        reply_markup=screen.keyboard,
        protect_content=True,
    )


async def build_screen(
    session: AsyncSession, user: User, data: KpiCb, clock: Clock, settings: Settings
) -> Screen:
    if data.view is KpiView.BREAKDOWN:
        return await breakdown_screen(session, user, data, clock.now(), settings)
    return await dashboard_screen(session, user, data, clock.now(), settings)


async def kpi_screen(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    await state.clear()
    await show(message, await build_screen(session, user, home(user), clock, settings))


# A range of dates, typed


@handlers.callback_query(KpiCb.filter(F.view == KpiView.DATES))
async def dates_button(
    query: CallbackQuery,
    callback_data: KpiCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    await kpi.check_slice(session, user, slice_of(callback_data))  # forged: "not found"
    await query.answer()
    if isinstance(query.message, Message):
        # Back to the screen it was pressed on: a breakdown names its list but no item of it.
        breakdown = bool(callback_data.dimension) and not callback_data.item
        view = KpiView.BREAKDOWN if breakdown else KpiView.DASHBOARD
        await state.set_data({"screen": callback_data.model_copy(update={"view": view}).pack()})
        await go(KpiForm.dates, query.message, state, session, user)


@step(KpiForm.dates, expects_text=True)
async def ask_dates(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await message.answer(
        _(
            "📅 Which dates? Type two with a dash, for example 1.11–15.11 or "
            "01.10.2026–31.10.2026 (at most a year)."
        ),
        reply_markup=nav_keyboard(),
    )


@handlers.message(KpiForm.dates, F.text)
async def dates_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    """The screen the dates were asked from, for those dates (compared with as many days
    before). A typo gets the example and the question again."""
    tz = ZoneInfo(user.timezone)
    period = Period.typed(message.text or "", clock.now().astimezone(tz).date(), tz)
    packed = (await state.get_data()).get("screen")
    if not packed:
        await state.clear()
        raise NotFound()
    custom = {"period": PeriodKind.CUSTOM.value, "ago": 0, "days": period.days}
    data = KpiCb.unpack(packed).model_copy(update={**custom, "since": (period.first - EPOCH).days})
    screen = await build_screen(session, user, data, clock, settings)  # checks the slice again
    await state.clear()
    await show(message, screen)


@handlers.callback_query(KpiCb.filter())
async def kpi_button(
    query: CallbackQuery,
    callback_data: KpiCb,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    screen = await build_screen(session, user, callback_data, clock, settings)  # checks first
    await query.answer()
    if isinstance(query.message, Message):
        await show(query.message, screen)


# /digest: the daily digest now


@handlers.message(Command("digest"))
async def digest_command(
    message: Message, session: AsyncSession, user: User, clock: Clock, settings: Settings
) -> None:
    if user.role not in (Role.HEAD, Role.ADMIN):
        await message.answer(
            _(
                "The daily digest is for heads of department and administrators. "
                "Your own figures are in 📊 KPI."
            )
        )
        return
    currency = settings.default_currency
    found = await digest.build(session, user, clock.now(), settings)
    text, chart = digest.digest_text(found, currency), digest.digest_chart(found, currency)
    await end_read_transaction()
    png, _drawn = await render.render_or_skip(chart.picture)
    await message.answer(text, protect_content=True)
    if png is not None:
        await message.answer_photo(
            BufferedInputFile(png, filename="digest.png"),
            caption=chart.caption,
            protect_content=True,
        )
