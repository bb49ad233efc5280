"""Key performance indicators: the figures behind the KPI screens, the charts and the digest.

Everything is an SQL aggregate over a `Period` (whole local days in the viewer's time zone, as
a UTC [start, end)) and a `Slice` (bot.services.slices: whose records, which clients, which
product line). Rows are never loaded into Python; only a handful of grouped rows are.

What counts where:
- activity: contacts logged (Interaction.occurred_at) by their author, by kind; new clients
  (Client.created_at) by their owner. A product line does not apply: the section is None.
- sales: deals opened (created_at) and won or lost (closed_at) in the period by their owner.
  Revenue, average deal and the pipeline's sums are in the given currency (the default one,
  as plans are); other currencies are listed apart, and still count as deals won or open.
  Win rate = won / (won + lost); cycle = days from creation to winning, deals won in the period.
- pipeline (open deals, weighted by the admin's stage probabilities) and relationship health
  (clients without contact for `stale_days`, open tasks past due) are snapshots taken `now`:
  the previous period has none (None), and health is None for a product line.
- plan attainment: month periods, for one manager, one department (its current members, as
  plans count) or the company, when nothing else narrows the slice.
- service and satisfaction: bot.services.complaints.figures and bot.services.surveys.figures.

Local days (series and charts) are computed by the database on both dialects, exactly, also
across DST changes and in half-hour zones: see `local_day`.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import complaints, deals, plans, slices, surveys
from bot.services.clients import stale_condition
from bot.services.errors import N_, InvalidInput, NotFound
from bot.services.plans import Figures, PlanFact
from bot.services.slices import Slice, Subject
from db.models import (
    OPEN_STAGES,
    Client,
    Deal,
    DealStage,
    Department,
    Interaction,
    InteractionKind,
    Plan,
    PlanSubject,
    ReferenceItem,
    ReferenceKind,
    Role,
    Survey,
    SurveyKind,
    SurveyStatus,
    Task,
    TaskStatus,
    User,
)
from db.types import epoch_seconds

__all__ = [
    "Activity",
    "BreakdownRow",
    "Change",
    "Dashboard",
    "Dimension",
    "Health",
    "Kpis",
    "OpenPipeline",
    "Period",
    "PeriodKind",
    "Sales",
    "Slice",
    "WeekScores",
    "activity_by_day",
    "breakdown",
    "change",
    "check_slice",
    "dashboard",
    "kpis",
    "local_day",
    "period_kind",
    "revenue_by_day",
    "satisfaction_by_week",
    "top",
]

CUSTOM_DAYS_MAX = 366


# Periods


class PeriodKind(StrEnum):
    DAY = "day"
    WEEK = "week"  # Monday to Sunday
    MONTH = "month"
    QUARTER = "quarter"
    CUSTOM = "custom"


def period_kind(value: str) -> PeriodKind:
    """A period kind from callback data, which is never trusted."""
    try:
        return PeriodKind(value)
    except ValueError:
        raise InvalidInput() from None


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """The local days first..last (both included) in the viewer's zone; `start` and `end`
    are that [start, end) as aware UTC moments, ready to compare with stored times."""

    kind: PeriodKind
    first: date
    last: date
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return _midnight(self.first, self.tz)

    @property
    def end(self) -> datetime:
        return _midnight(self.last + timedelta(days=1), self.tz)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]

    @property
    def month(self) -> str | None:
        """The month of a month period as plans key it ("2026-11"), None for other kinds."""
        return plans.month_of(self.first) if self.kind is PeriodKind.MONTH else None

    @classmethod
    def of(cls, kind: PeriodKind, today: date, tz: ZoneInfo) -> Period:
        """The day, week, month or quarter that contains `today` (the viewer's local date)."""
        if kind is PeriodKind.DAY:
            return cls(kind, today, today, tz)
        if kind is PeriodKind.WEEK:
            monday = today - timedelta(days=today.weekday())
            return cls(kind, monday, monday + timedelta(days=6), tz)
        if kind is PeriodKind.MONTH:
            first_month = today.month
        elif kind is PeriodKind.QUARTER:
            first_month = (today.month - 1) // 3 * 3 + 1
        else:
            raise InvalidInput()  # a custom range has its own constructor
        last_month = first_month + (2 if kind is PeriodKind.QUARTER else 0)
        last_day = calendar.monthrange(today.year, last_month)[1]
        first, last = date(today.year, first_month, 1), date(today.year, last_month, last_day)
        return cls(kind, first, last, tz)

    @classmethod
    def custom(cls, first: date, last: date, tz: ZoneInfo) -> Period:
        """Any range of whole local days, at most CUSTOM_DAYS_MAX long."""
        if last < first or (last - first).days >= CUSTOM_DAYS_MAX:
            raise InvalidInput()
        return cls(PeriodKind.CUSTOM, first, last, tz)

    @classmethod
    def typed(cls, text: str, today: date, tz: ZoneInfo) -> Period:
        """A custom range as people type it: "1.11–15.11", "1.11.2026 - 15.11.2026",
        "25.12.25—5.1.26". Without years it is the latest such range that has begun by
        `today`; a year on the last date alone counts for both (one year back when the first
        date is later in the year). Anything else, or longer than CUSTOM_DAYS_MAX: InvalidInput."""
        match = _TYPED_RANGE.fullmatch(" ".join(text.split()))
        if match is None:
            raise InvalidInput(_RANGE_EXPECTED)
        d1, m1, y1, d2, m2, y2 = (None if g is None else int(g) for g in match.groups())
        try:
            if y2 is not None:  # the year of the last date, and of the first unless given
                last = date(_full_year(y2), m2, d2)
                first = date(_full_year(y1) if y1 is not None else last.year, m1, d1)
                if y1 is None and first > last:
                    first = first.replace(year=first.year - 1)
            else:  # the first date's year, given or the latest that has begun by today
                first = date(_full_year(y1) if y1 is not None else today.year, m1, d1)
                if y1 is None and first > today:
                    first = first.replace(year=first.year - 1)
                last = date(first.year, m2, d2)
                if last < first:
                    last = last.replace(year=last.year + 1)
        except ValueError:  # 31.02 and the like
            raise InvalidInput(_RANGE_EXPECTED) from None
        return cls.custom(first, last, tz)

    def previous(self) -> Period:
        """The period of the same kind just before; a custom range: as many days before."""
        if self.kind is PeriodKind.CUSTOM:
            before = self.first - timedelta(days=1)
            return Period.custom(self.first - timedelta(days=self.days), before, self.tz)
        return Period.of(self.kind, self.first - timedelta(days=1), self.tz)


_DATE = r"(\d{1,2})\.(\d{1,2})(?:\.(\d{2}|\d{4}))?"
_TYPED_RANGE = re.compile(rf"{_DATE} ?[-–—] ?{_DATE}")
_RANGE_EXPECTED = N_(
    "Type two dates with a dash, for example 1.11–15.11 or 01.10.2026–31.10.2026 (at most a year)."
)


def _full_year(year: int) -> int:
    return year + 2000 if year < 100 else year


def _within(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def _stage_in(session: AsyncSession, *stages: DealStage) -> ColumnElement[bool]:
    """Deal.stage IN stages, marked on SQLite as true for about half the deals. SQLite has no
    statistics unless ANALYZE is run (the bot never runs it), so its planner takes an equality
    on any indexed column for a selective one: with a person filter it would read every deal
    of the company in that stage (ix_deals_stage_closed) and only then keep the team's,
    instead of reading the team's deals (ix_deals_owner_closed, ix_deals_owner_stage), 10 to
    50 times more rows at 100,000 clients (bench/kpi.py). likelihood() returns its argument
    unchanged, it only informs the planner; the company-wide queries keep the stage index.
    PostgreSQL keeps statistics and needs no hint."""
    condition = Deal.stage.in_(stages)
    if session.bind.dialect.name == "sqlite":  # untyped: a Boolean would add "= 1"
        return func.likelihood(condition, literal_column("0.5"))  # a constant, not a parameter
    return condition


# Local days in SQL


def local_day(session: AsyncSession, column: Any, period: Period) -> ColumnElement[date]:
    """The viewer's calendar day of a stored UTC moment, computed by the database.

    PostgreSQL converts with the zone itself (AT TIME ZONE). SQLite has no time zones, so the
    moment is shifted by the zone's UTC offset; not one offset for the whole period (a DST
    change inside it would put the rows of the night after it on the wrong day) but the
    offsets in force during the period with the instants they change, found with zoneinfo:
    a CASE of one or two branches a year. UTC-hour buckets folded in Python were the other
    option; they are wrong for half-hour zones (Asia/Kolkata) and return 24× the rows."""
    if session.bind.dialect.name == "postgresql":
        zone = literal(period.tz.key, literal_execute=True)  # the same text in GROUP BY
        return cast(func.timezone(zone, column), Date)
    pieces = _offsets(period.start, period.end, period.tz)
    shift: Any = _modifier(pieces[0][1])
    if len(pieces) > 1:
        shift = case(
            *((column >= since, _modifier(offset)) for since, offset in reversed(pieces[1:])),
            else_=shift,
        )
    return func.date(column, shift, type_=Date)


def _modifier(seconds: int) -> str:
    return f"{seconds:+d} seconds"


def _offset(moment: datetime, tz: ZoneInfo) -> int:
    offset = moment.astimezone(tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _offsets(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime, int]]:
    """The zone's UTC offsets (in seconds) over [start, end), each with the moment it begins.
    Zones change their offset at most once a day, so a day's step finds every change."""
    pieces = [(start, _offset(start, tz))]
    moment = start
    while moment < end:
        following = min(moment + timedelta(days=1), end)
        if _offset(following, tz) != pieces[-1][1]:
            pieces.append(_change(moment, following, tz))
        moment = following
    return pieces


def _change(before: datetime, after: datetime, tz: ZoneInfo) -> tuple[datetime, int]:
    """The first second with `after`'s offset (zones change offsets on whole seconds)."""
    old = _offset(before, tz)
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(datetime.fromtimestamp(middle, UTC), tz) == old:
            low = middle
        else:
            high = middle
    moment = datetime.fromtimestamp(high, UTC)
    return moment, _offset(moment, tz)


# Access


_REFERENCE_FILTERS = (
    ("product_line_id", ReferenceKind.PRODUCT_LINE),
    ("industry_id", ReferenceKind.INDUSTRY),
    ("region_id", ReferenceKind.REGION),
    ("lead_source_id", ReferenceKind.LEAD_SOURCE),
)


async def check_slice(session: AsyncSession, actor: User, slice: Slice) -> None:
    """A manager sees only their own figures (owner = themself; other filters allowed); a head
    their department or one of its members; admins anything; the whole company is for admins
    only. Anything else, unknown ids and ids of the wrong list included, is "not found", so a
    forged slice does not even learn what exists. The same rule as the deals' scopes."""
    await deals.check_scope(session, actor, deals.Scope(slice.owner_id, slice.department_id))
    if slice.owner_id is not None and slice.department_id is not None:
        owner = await session.get(User, slice.owner_id)
        if owner is None or owner.department_id != slice.department_id:
            raise NotFound()
    for name, kind in _REFERENCE_FILTERS:
        item_id = getattr(slice, name)
        if item_id is not None:
            item = await session.get(ReferenceItem, item_id)
            if item is None or item.kind is not kind:
                raise NotFound()


# Figures


@dataclass(frozen=True)
class Activity:
    by_kind: dict[InteractionKind, int]  # every kind, zeros included
    new_clients: int

    @property
    def contacts(self) -> int:
        return sum(self.by_kind.values())

    @property
    def visits(self) -> int:
        return self.by_kind[InteractionKind.VISIT]


@dataclass(frozen=True)
class OpenPipeline:
    """Open deals now: how many (any currency), and their sum and weighted sum in the currency."""

    deals: int
    amount_minor: int
    weighted_minor: int
    other: dict[str, int]  # sums in other currencies


@dataclass(frozen=True)
class Sales:
    opened: int
    won: int  # any currency
    lost: int
    revenue_minor: int  # won, in the currency
    other_revenue: dict[str, int]  # won in other currencies
    win_rate: float | None  # won / (won + lost), 0..1
    average_deal_minor: int | None  # revenue / deals won in the currency
    average_cycle_days: float | None  # creation to winning
    pipeline: OpenPipeline | None  # a snapshot: None for a previous period
    plan: PlanFact | None  # month periods of one manager, department or the company


@dataclass(frozen=True)
class Health:
    stale_clients: int  # no contact for stale_days (or never, and that old)
    overdue_tasks: int  # open and past due


@dataclass(frozen=True)
class Kpis:
    period: Period
    activity: Activity | None  # None: not applicable (a product line slice)
    sales: Sales
    service: complaints.ComplaintFigures
    satisfaction: surveys.SurveyFigures
    health: Health | None  # a snapshot: None for a previous period and for a product line


async def _activity(session: AsyncSession, slice: Slice, period: Period) -> Activity | None:
    where = slices.conditions(slice, slices.INTERACTIONS)
    clients_where = slices.conditions(slice, slices.CLIENTS)
    if where is None or clients_where is None:
        return None
    rows = await session.execute(
        select(Interaction.kind, func.count(Interaction.id))
        .where(*where, _within(Interaction.occurred_at, period))
        .group_by(Interaction.kind)
    )
    by_kind = dict.fromkeys(InteractionKind, 0)
    for kind, count in rows.all():
        by_kind[kind] = int(count)
    new_clients = await session.scalar(
        select(func.count(Client.id)).where(*clients_where, _within(Client.created_at, period))
    )
    return Activity(by_kind, int(new_clients or 0))


def _divide(amount: int, count: int) -> int:
    return int((Decimal(amount) / count).quantize(Decimal(1), ROUND_HALF_UP))


async def _sales(
    session: AsyncSession, slice: Slice, period: Period, currency: str
) -> tuple[Sales, int]:
    """Deals opened, won and lost in the period (the pipeline and plan are added after), and
    the number won in the currency (the plan's fact)."""
    where = slices.conditions(slice, slices.DEALS) or []
    opened = await session.scalar(
        select(func.count(Deal.id)).where(*where, _within(Deal.created_at, period))
    )
    cycle = epoch_seconds(session, Deal.closed_at) - epoch_seconds(session, Deal.created_at)
    rows = await session.execute(
        select(
            Deal.stage,
            Deal.currency,
            func.count(Deal.id),
            func.coalesce(func.sum(Deal.amount_minor), 0),
            func.coalesce(func.sum(cycle), 0),
        )
        .where(
            *where,
            _stage_in(session, DealStage.WON, DealStage.LOST),
            _within(Deal.closed_at, period),
        )
        .group_by(Deal.stage, Deal.currency)
    )
    won_by_currency: dict[str, int] = {}
    revenue_by_currency: dict[str, int] = {}
    lost = cycle_seconds = 0
    for stage, deal_currency, count, amount, seconds in rows.all():
        if stage is DealStage.LOST:
            lost += int(count)
            continue
        won_by_currency[deal_currency] = int(count)
        revenue_by_currency[deal_currency] = int(amount)
        cycle_seconds += float(seconds)
    won = sum(won_by_currency.values())
    revenue = revenue_by_currency.pop(currency, 0)
    won_here = won_by_currency.get(currency, 0)
    sales = Sales(
        opened=int(opened or 0),
        won=won,
        lost=lost,
        revenue_minor=revenue,
        other_revenue=revenue_by_currency,
        win_rate=won / (won + lost) if won + lost else None,
        average_deal_minor=_divide(revenue, won_here) if won_here else None,
        average_cycle_days=round(cycle_seconds / won / 86400, 1) if won else None,
        pipeline=None,
        plan=None,
    )
    return sales, won_here


async def _pipeline(session: AsyncSession, slice: Slice, currency: str) -> OpenPipeline:
    """Open deals now, weighted with the stage probabilities the same way as the pipeline
    screen (bot.services.deals.pipeline)."""
    where = slices.conditions(slice, slices.DEALS) or []
    percents = await deals.probabilities(session)
    rows = await session.execute(
        select(
            Deal.stage,
            Deal.currency,
            func.count(Deal.id),
            func.coalesce(func.sum(Deal.amount_minor), 0),
        )
        .where(*where, _stage_in(session, *OPEN_STAGES))
        .group_by(Deal.stage, Deal.currency)
    )
    count = amount = weighted = 0
    other: dict[str, int] = {}
    for stage, deal_currency, n, total in rows.all():
        count += int(n)
        if deal_currency != currency:
            other[deal_currency] = other.get(deal_currency, 0) + int(total)
            continue
        amount += int(total)
        weighted += int((Decimal(int(total)) * percents[stage] / 100).to_integral_value())
    return OpenPipeline(count, amount, weighted, other)


async def _plan(
    session: AsyncSession,
    actor: User,
    slice: Slice,
    period: Period,
    currency: str,
    now: datetime,
    fact: Figures,
) -> PlanFact | None:
    """The month's plan against `fact`: for one manager or a department, the slice's own
    revenue won and deals won in the currency and contacts logged, which are what
    plans.facts counts for them (the same deals and contacts of the same people in the same
    month), so they are not counted twice; the company's through plans."""
    month = period.month
    if month is None or not slice.people_only:
        return None
    today = now.astimezone(period.tz).date()
    if slice.company:
        return await plans.company_plan_vs_fact(session, actor, month, today, period.tz, currency)
    subject, subject_id = (
        (PlanSubject.USER, slice.owner_id)
        if slice.owner_id is not None
        else (PlanSubject.DEPARTMENT, slice.department_id)
    )
    assert subject_id is not None
    plan = await plans.get_plan(session, subject, subject_id, month)
    target = Figures(plan.revenue_minor, plan.deals_won, plan.interactions) if plan else None
    return PlanFact(month, target, fact, plans.working_days_left(month, today))


async def _health(
    session: AsyncSession, slice: Slice, now: datetime, stale_days: int
) -> Health | None:
    clients_where = slices.conditions(slice, slices.CLIENTS)
    tasks_where = slices.conditions(slice, slices.TASKS)
    if clients_where is None or tasks_where is None:
        return None
    stale = await session.scalar(
        select(func.count(Client.id)).where(*clients_where, stale_condition(now, stale_days))
    )
    overdue = await session.scalar(
        select(func.count(Task.id)).where(
            *tasks_where, Task.status == TaskStatus.OPEN, Task.due_at < now
        )
    )
    return Health(int(stale or 0), int(overdue or 0))


async def _kpis(
    session: AsyncSession,
    actor: User,
    slice: Slice,
    period: Period,
    *,
    currency: str,
    now: datetime,
    stale_days: int | None,
) -> Kpis:
    """The figures of an already checked slice; snapshots only when stale_days is given."""
    sales, won_here = await _sales(session, slice, period, currency)
    snapshot = stale_days is not None
    pipeline = await _pipeline(session, slice, currency) if snapshot else None
    activity = await _activity(session, slice, period)
    fact = Figures(sales.revenue_minor, won_here, activity.contacts if activity else 0)
    plan = await _plan(session, actor, slice, period, currency, now, fact)
    return Kpis(
        period=period,
        activity=activity,
        sales=replace(sales, pipeline=pipeline, plan=plan),
        service=await complaints.figures(session, period.start, period.end, slice=slice),
        satisfaction=await surveys.figures(session, period.start, period.end, slice=slice),
        health=await _health(session, slice, now, stale_days) if snapshot else None,
    )


async def kpis(
    session: AsyncSession,
    actor: User,
    slice: Slice,
    period: Period,
    *,
    stale_days: int,
    currency: str,
    now: datetime,
) -> Kpis:
    """One period's figures (the digest's "yesterday"), snapshots taken at `now`."""
    await check_slice(session, actor, slice)
    return await _kpis(
        session, actor, slice, period, currency=currency, now=now, stale_days=stale_days
    )


# The dashboard: this period against the one before


@dataclass(frozen=True)
class Change:
    absolute: int | float | None  # current − previous
    percent: float | None  # of the previous, one decimal; None when it was 0 or unknown


def change(current: int | float | None, previous: int | float | None) -> Change:
    """For rates (win rate, NPS) the absolute change, in points, is the one to show."""
    if current is None or previous is None:
        return Change(None, None)
    absolute = current - previous
    return Change(absolute, round(absolute * 100 / abs(previous), 1) if previous else None)


def _pick(kpis: Kpis, path: str) -> Any:
    value: Any = kpis
    for name in path.split("."):
        if value is None:
            return None
        value = value.get(name) if isinstance(value, dict) else getattr(value, name)
    return value


@dataclass(frozen=True)
class Dashboard:
    slice: Slice
    current: Kpis
    previous: Kpis  # no snapshots: pipeline and health are None

    def change(self, path: str) -> Change:
        """The change of one figure named by its path, e.g. "sales.revenue_minor",
        "activity.visits", "activity.by_kind.call", "satisfaction.nps"."""
        return change(_pick(self.current, path), _pick(self.previous, path))


async def dashboard(
    session: AsyncSession,
    actor: User,
    slice: Slice,
    period: Period,
    *,
    stale_days: int,
    currency: str,
    now: datetime,
) -> Dashboard:
    """A slice's figures for a period and for the period before, for the KPI screen."""
    await check_slice(session, actor, slice)
    current = await _kpis(
        session, actor, slice, period, currency=currency, now=now, stale_days=stale_days
    )
    previous = await _kpis(
        session, actor, slice, period.previous(), currency=currency, now=now, stale_days=None
    )
    return Dashboard(slice, current, previous)


# Breakdowns: one row per manager, department, product line, industry, region or lead source


class Dimension(StrEnum):
    MANAGER = "manager"
    DEPARTMENT = "department"
    PRODUCT_LINE = "product_line"
    INDUSTRY = "industry"
    REGION = "region"
    LEAD_SOURCE = "lead_source"


_CLIENT_COLUMNS = {
    Dimension.INDUSTRY: Client.industry_id,
    Dimension.REGION: Client.region_id,
    Dimension.LEAD_SOURCE: Client.lead_source_id,
}


@dataclass
class BreakdownRow:
    key: int | None  # a user, department or reference item id; None: not set
    label: str = ""
    revenue_minor: int = 0  # won, in the currency
    won: int = 0  # any currency
    opened: int = 0
    contacts: int | None = 0  # None: not applicable (by or for a product line)
    plan_revenue_minor: int | None = None  # month periods, managers and departments
    plan_percent: int | None = None


def _grouped(dimension: Dimension, subject: Subject, *aggregates: Any) -> Select:
    """SELECT key, aggregates FROM the subject's table, joined to what the key needs, grouped
    by the key (by product line only for subjects that have one)."""
    join: tuple[Any, Any] | None = None
    if dimension is Dimension.MANAGER:
        key = subject.person
    elif dimension is Dimension.DEPARTMENT:
        key, join = User.department_id, (User, User.id == subject.person)
    elif dimension is Dimension.PRODUCT_LINE:
        key = subject.product_line
    else:
        key, join = _CLIENT_COLUMNS[dimension], (Client, Client.id == subject.client_id)
    query = select(key, *aggregates).select_from(subject.entity)
    if join is not None:
        query = query.join(*join)
    return query.group_by(key)


async def breakdown(
    session: AsyncSession,
    actor: User,
    slice: Slice,
    period: Period,
    dimension: Dimension,
    *,
    currency: str,
) -> list[BreakdownRow]:
    """Revenue won, deals won and opened and contacts logged per key, biggest revenue first.
    Managers: every active manager of the slice is listed, with zeros if need be (a
    leaderboard shows who sold nothing). Month periods add the revenue plan per manager or
    department when only people narrow the slice."""
    await check_slice(session, actor, slice)
    rows: dict[int | None, BreakdownRow] = {}

    def row(key: int | None) -> BreakdownRow:
        return rows.setdefault(key, BreakdownRow(key))

    where = slices.conditions(slice, slices.DEALS) or []
    opened = _grouped(dimension, slices.DEALS, func.count(Deal.id))
    for key, count in await session.execute(opened.where(*where, _within(Deal.created_at, period))):
        row(key).opened = int(count)
    in_currency = case((Deal.currency == currency, Deal.amount_minor), else_=0)
    won = _grouped(
        dimension, slices.DEALS, func.count(Deal.id), func.coalesce(func.sum(in_currency), 0)
    )
    for key, count, revenue in await session.execute(
        won.where(*where, _stage_in(session, DealStage.WON), _within(Deal.closed_at, period))
    ):
        row(key).won, row(key).revenue_minor = int(count), int(revenue)
    contacts = await _contacts(session, slice, period, dimension)
    for key in contacts or {}:
        row(key)
    if dimension is Dimension.MANAGER:
        for user_id in await _managers(session, slice):
            row(user_id)
    for each in rows.values():
        each.contacts = None if contacts is None else contacts.get(each.key, 0)
    await _label(session, dimension, rows)
    await _plans(session, slice, period, dimension, rows)
    return sorted(rows.values(), key=_biggest_first)


async def _contacts(
    session: AsyncSession, slice: Slice, period: Period, dimension: Dimension
) -> dict[int | None, int] | None:
    """Contacts logged per key; None when not applicable (by or for a product line)."""
    where = slices.conditions(slice, slices.INTERACTIONS)
    if where is None or dimension is Dimension.PRODUCT_LINE:
        return None
    logged = _grouped(dimension, slices.INTERACTIONS, func.count(Interaction.id))
    found = await session.execute(logged.where(*where, _within(Interaction.occurred_at, period)))
    return {key: int(count) for key, count in found.all()}


async def _managers(session: AsyncSession, slice: Slice) -> list[int]:
    found = await session.scalars(
        select(User.id).where(
            User.is_active.is_(True), User.role == Role.MANAGER, *slices.people(slice, User.id)
        )
    )
    return list(found)


async def _label(
    session: AsyncSession, dimension: Dimension, rows: dict[int | None, BreakdownRow]
) -> None:
    ids = [key for key in rows if key is not None]
    if not ids:
        return
    if dimension is Dimension.MANAGER:
        names = select(User.id, User.full_name).where(User.id.in_(ids))
    elif dimension is Dimension.DEPARTMENT:
        names = select(Department.id, Department.name).where(Department.id.in_(ids))
    else:
        names = select(ReferenceItem.id, ReferenceItem.name).where(ReferenceItem.id.in_(ids))
    for key, name in await session.execute(names):
        rows[key].label = name


async def _plans(
    session: AsyncSession,
    slice: Slice,
    period: Period,
    dimension: Dimension,
    rows: dict[int | None, BreakdownRow],
) -> None:
    subject = {Dimension.MANAGER: PlanSubject.USER, Dimension.DEPARTMENT: PlanSubject.DEPARTMENT}
    if period.month is None or dimension not in subject or not slice.people_only:
        return
    found = await session.execute(
        select(Plan.subject_id, Plan.revenue_minor).where(
            Plan.month == period.month,
            Plan.subject == subject[dimension],
            Plan.subject_id.in_([key for key in rows if key is not None]),
        )
    )
    for key, revenue in found.all():
        rows[key].plan_revenue_minor = int(revenue)
        rows[key].plan_percent = PlanFact.percent(rows[key].revenue_minor, int(revenue))


def _biggest_first(row: BreakdownRow) -> tuple:
    return (-row.revenue_minor, -row.won, -row.opened, row.label.casefold(), row.key is None)


def top(rows: Sequence[BreakdownRow], n: int) -> tuple[list[BreakdownRow], BreakdownRow | None]:
    """The first n rows, and the rest summed into one "other" row (None if nothing is left),
    for charts that must stay readable with fifty managers."""
    head, rest = list(rows[:n]), rows[n:]
    if not rest:
        return head, None
    contacts = [r.contacts for r in rest]
    other = BreakdownRow(
        key=None,
        revenue_minor=sum(r.revenue_minor for r in rest),
        won=sum(r.won for r in rest),
        opened=sum(r.opened for r in rest),
        contacts=None if None in contacts else sum(c or 0 for c in contacts),
    )
    return head, other


# Series for charts, per local day of the viewer


async def revenue_by_day(
    session: AsyncSession, actor: User, slice: Slice, period: Period, *, currency: str
) -> dict[date, int]:
    """Revenue won in the currency on each local day of the period (zeros included, in
    order): itertools.accumulate gives the cumulative line."""
    await check_slice(session, actor, slice)
    day = local_day(session, Deal.closed_at, period)
    where = slices.conditions(slice, slices.DEALS) or []
    rows = await session.execute(
        select(day, func.sum(Deal.amount_minor))
        .where(
            *where,
            _stage_in(session, DealStage.WON),
            Deal.currency == currency,
            _within(Deal.closed_at, period),
        )
        .group_by(day)
    )
    result = dict.fromkeys(period.dates(), 0)
    for on, amount in rows.all():
        result[on] = int(amount)
    return result


async def activity_by_day(
    session: AsyncSession, actor: User, slice: Slice, period: Period
) -> dict[date, dict[InteractionKind, int]] | None:
    """Contacts logged on each local day by kind (every day and kind, zeros included);
    None when not applicable (a product line)."""
    await check_slice(session, actor, slice)
    where = slices.conditions(slice, slices.INTERACTIONS)
    if where is None:
        return None
    day = local_day(session, Interaction.occurred_at, period)
    rows = await session.execute(
        select(day, Interaction.kind, func.count(Interaction.id))
        .where(*where, _within(Interaction.occurred_at, period))
        .group_by(day, Interaction.kind)
    )
    result = {on: dict.fromkeys(InteractionKind, 0) for on in period.dates()}
    for on, kind, count in rows.all():
        result[on][kind] = int(count)
    return result


@dataclass(frozen=True)
class WeekScores:
    week: date  # the local Monday; the first and last weeks may be cut by the period
    nps: float | None  # as surveys.figures: % promoters − % detractors
    nps_answers: int
    csat_average: float | None
    csat_answers: int


async def satisfaction_by_week(
    session: AsyncSession, actor: User, slice: Slice, period: Period
) -> list[WeekScores]:
    """NPS and CSAT of the surveys sent in each local week of the period (every week, None
    without answers), computed as surveys.figures computes them. The database counts per
    local day; the days fold into weeks here (at most 7 rows a week)."""
    await check_slice(session, actor, slice)
    where = slices.conditions(slice, slices.SURVEYS) or []
    answered = Survey.status == SurveyStatus.ANSWERED
    nps = and_(answered, Survey.kind == SurveyKind.NPS)
    csat = and_(answered, Survey.kind == SurveyKind.CSAT)

    def total(condition: ColumnElement[bool], value: Any = 1) -> Any:
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    day = local_day(session, Survey.sent_at, period)
    rows = await session.execute(
        select(
            day,
            total(nps),
            total(and_(nps, Survey.score >= 9)),
            total(and_(nps, Survey.score <= 6)),
            total(csat),
            total(csat, Survey.score),
        )
        .join(Client, Client.id == Survey.client_id)  # SURVEYS filters on the client's columns
        .where(*where, _within(Survey.sent_at, period))
        .group_by(day)
    )
    first_monday = period.first - timedelta(days=period.first.weekday())
    weeks = range((period.last - first_monday).days // 7 + 1)
    counts = {first_monday + timedelta(weeks=n): [0, 0, 0, 0, 0] for n in weeks}
    for on, *values in rows.all():
        week = counts[on - timedelta(days=on.weekday())]
        for index, value in enumerate(values):
            week[index] += int(value)
    return [_week_scores(monday, *week) for monday, week in counts.items()]


def _week_scores(
    monday: date, nps_n: int, promoters: int, detractors: int, csat_n: int, csat_sum: int
) -> WeekScores:
    return WeekScores(
        week=monday,
        nps=round((promoters - detractors) * 100 / nps_n, 1) if nps_n else None,
        nps_answers=nps_n,
        csat_average=round(csat_sum / csat_n, 2) if csat_n else None,
        csat_answers=csat_n,
    )
