"""Monthly plans and plan against fact.

Heads set targets for the managers of their department, admins for departments (and for any
manager). Facts are SQL aggregates: revenue and count of deals won in the month (in the default
currency) by their owner, and contacts logged by their author. A department's fact is its
current members' fact. Months are calendar months in the viewer's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import require_role, visible_users
from bot.services.audit import AuditAction
from bot.services.errors import N_, InvalidInput, NotFound
from db.models import Deal, DealStage, Department, Interaction, Plan, PlanSubject, Role, User
from db.repositories import AuditRepository, UserRepository

COUNT_MAX = 1_000_000
GROWTH_MAX = 1000  # per cent


# Months


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(value: str) -> date:
    """The first day of a "YYYY-MM" month (from callback data, never trusted)."""
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise InvalidInput() from None


def shift_month(month: str, months: int) -> str:
    first = parse_month(month)
    index = first.year * 12 + first.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a month in a time zone, as UTC moments."""
    start = datetime.combine(parse_month(month), time(), tz)
    end = datetime.combine(parse_month(shift_month(month, 1)), time(), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def working_days_left(month: str, today: date) -> int:
    """Monday to Friday from today (included) to the month's end; 0 for a past month."""
    first, after = parse_month(month), parse_month(shift_month(month, 1))
    day, count = max(first, today), 0
    while day < after:
        count += day.weekday() < 5
        day += timedelta(days=1)
    return count


# Facts


@dataclass(frozen=True)
class Figures:
    revenue_minor: int = 0
    deals_won: int = 0
    interactions: int = 0


def _members(subject: PlanSubject, subject_id: int) -> ColumnElement[bool]:
    if subject is PlanSubject.USER:
        return User.id == subject_id
    return User.department_id == subject_id


async def facts(
    session: AsyncSession,
    subject: PlanSubject,
    subject_ids: Sequence[int],
    start: datetime,
    end: datetime,
    currency: str,
) -> dict[int, Figures]:
    """Won revenue, deals won and contacts logged in [start, end) per user or department."""
    if not subject_ids:
        return {}
    key = User.id if subject is PlanSubject.USER else User.department_id
    won = await session.execute(
        select(key, func.count(Deal.id), func.coalesce(func.sum(Deal.amount_minor), 0))
        .join(User, User.id == Deal.owner_id)
        .where(
            key.in_(subject_ids),
            Deal.stage == DealStage.WON,
            Deal.currency == currency,
            Deal.closed_at >= start,
            Deal.closed_at < end,
        )
        .group_by(key)
    )
    logged = await session.execute(
        select(key, func.count(Interaction.id))
        .join(User, User.id == Interaction.author_id)
        .where(
            key.in_(subject_ids), Interaction.occurred_at >= start, Interaction.occurred_at < end
        )
        .group_by(key)
    )
    result = {subject_id: Figures() for subject_id in subject_ids}
    for subject_id, count, revenue in won.all():
        result[subject_id] = Figures(int(revenue), int(count), 0)
    for subject_id, count in logged.all():
        previous = result[subject_id]
        result[subject_id] = Figures(previous.revenue_minor, previous.deals_won, int(count))
    return result


# Access


async def check_subject(
    session: AsyncSession, actor: User, subject: PlanSubject, subject_id: int, *, write: bool
) -> None:
    """Reading: a manager their own plan, a head their department's and its members', admins
    all. Writing: heads for their department's managers, admins for anyone and departments.
    Anything else is "not found": forged ids learn nothing."""
    if not actor.is_active:
        raise NotFound()
    if subject is PlanSubject.DEPARTMENT:
        if await session.get(Department, subject_id) is None:
            raise NotFound()
        if actor.role is Role.ADMIN:
            return
        if write or actor.role is not Role.HEAD or actor.department_id != subject_id:
            raise NotFound()
        return
    if subject_id == actor.id and not write:
        return
    if actor.role not in (Role.HEAD, Role.ADMIN):
        raise NotFound()
    target = await UserRepository(session).get(subject_id, visible_users(actor))
    if target is None or (actor.role is Role.HEAD and (target.id == actor.id)):
        raise NotFound()


# Plans


async def get_plan(session: AsyncSession, subject: PlanSubject, subject_id: int, month: str):
    return await session.scalar(
        select(Plan).where(
            Plan.month == month, Plan.subject == subject, Plan.subject_id == subject_id
        )
    )


def parse_count(raw: str) -> int:
    text = (raw or "").replace(" ", "").strip()
    if not text.isdigit() or int(text) > COUNT_MAX:
        raise InvalidInput(N_("Type a whole number, for example: 12."))
    return int(text)


async def set_plan(
    session: AsyncSession,
    actor: User,
    subject: PlanSubject,
    subject_id: int,
    month: str,
    figures: Figures,
) -> Plan:
    await check_subject(session, actor, subject, subject_id, write=True)
    parse_month(month)
    if min(figures.revenue_minor, figures.deals_won, figures.interactions) < 0:
        raise InvalidInput()
    plan = await get_plan(session, subject, subject_id, month)
    if plan is None:
        plan = Plan(month=month, subject=subject, subject_id=subject_id)
        session.add(plan)
    old = (plan.revenue_minor, plan.deals_won, plan.interactions)
    plan.revenue_minor = figures.revenue_minor
    plan.deals_won = figures.deals_won
    plan.interactions = figures.interactions
    plan.set_by_id = actor.id
    AuditRepository(session).record(
        actor.id,
        AuditAction.PLAN_SET,
        subject.value,
        subject_id,
        month=month,
        old=list(old) if None not in old else None,
        new=[figures.revenue_minor, figures.deals_won, figures.interactions],
    )
    await session.commit()
    return plan


def _grow(value: int, percent: int, *, step: int = 1) -> int:
    """value × (100 + percent) / 100, rounded half up to a multiple of `step`."""
    grown = Decimal(value) * (100 + percent) / 100 / step
    return int(grown.quantize(Decimal(1), ROUND_HALF_UP)) * step


async def team(session: AsyncSession, actor: User) -> tuple[PlanSubject, list[tuple[int, str]]]:
    """Whose plans the actor sets: a head their managers, an admin the departments."""
    if not actor.is_active or actor.role not in (Role.HEAD, Role.ADMIN):
        raise NotFound()
    if actor.role is Role.ADMIN:
        rows = await session.execute(
            select(Department.id, Department.name)
            .where(Department.archived.is_(False))
            .order_by(Department.name, Department.id)
        )
        return PlanSubject.DEPARTMENT, [(i, n) for i, n in rows.all()]
    rows = await session.execute(
        select(User.id, User.full_name)
        .where(
            User.department_id == actor.department_id,
            User.role == Role.MANAGER,
            User.is_active.is_(True),
        )
        .order_by(User.full_name, User.id)
    )
    return PlanSubject.USER, [(i, n) for i, n in rows.all()]


async def copy_last_month(session: AsyncSession, actor: User, month: str) -> int:
    """Last month's plans of the actor's team become this month's; returns how many."""
    subject, members = await team(session, actor)
    copied = 0
    for subject_id, _name in members:
        previous = await get_plan(session, subject, subject_id, shift_month(month, -1))
        if previous is not None:
            figures = Figures(previous.revenue_minor, previous.deals_won, previous.interactions)
            await set_plan(session, actor, subject, subject_id, month, figures)
            copied += 1
    return copied


async def grow_from_last_year(
    session: AsyncSession, actor: User, month: str, percent: int, tz: ZoneInfo, currency: str
) -> int:
    """Each member's plan: the fact of the same month last year + `percent`% (revenue rounded
    to whole currency units); returns how many plans were set. A member with no figures that
    month (joined since) keeps their plan rather than getting an all-zero one."""
    if not -100 < percent <= GROWTH_MAX:
        raise InvalidInput(N_("Type a whole number of per cent, for example: 10."))
    subject, members = await team(session, actor)
    last_year = shift_month(month, -12)
    start, end = month_bounds(last_year, tz)
    found = await facts(session, subject, [i for i, _ in members], start, end, currency)
    grown = 0
    for subject_id, _name in members:
        fact = found[subject_id]
        if fact == Figures():
            continue
        figures = Figures(
            _grow(fact.revenue_minor, percent, step=100),
            _grow(fact.deals_won, percent),
            _grow(fact.interactions, percent),
        )
        await set_plan(session, actor, subject, subject_id, month, figures)
        grown += 1
    return grown


def parse_percent(raw: str) -> int:
    text = (raw or "").strip().lstrip("+").rstrip("%").strip()
    if not text.lstrip("-").isdigit():
        raise InvalidInput(N_("Type a whole number of per cent, for example: 10."))
    return int(text)


# Plan against fact


@dataclass(frozen=True)
class PlanFact:
    month: str
    plan: Figures | None
    fact: Figures
    working_days_left: int

    @staticmethod
    def percent(fact: int, plan: int) -> int | None:
        """Attainment in whole per cent (rounded down: 99.6% is not yet 100%); None if no plan."""
        return fact * 100 // plan if plan > 0 else None

    @property
    def revenue_percent(self) -> int | None:
        return self.percent(self.fact.revenue_minor, self.plan.revenue_minor) if self.plan else None

    @property
    def deals_percent(self) -> int | None:
        return self.percent(self.fact.deals_won, self.plan.deals_won) if self.plan else None

    @property
    def interactions_percent(self) -> int | None:
        return self.percent(self.fact.interactions, self.plan.interactions) if self.plan else None


async def plan_vs_fact(
    session: AsyncSession,
    actor: User,
    subject: PlanSubject,
    subject_ids: Sequence[int],
    month: str,
    today: date,
    tz: ZoneInfo,
    currency: str,
) -> dict[int, PlanFact]:
    """Plan and fact of a month for each subject (access checked for each)."""
    for subject_id in subject_ids:
        await check_subject(session, actor, subject, subject_id, write=False)
    start, end = month_bounds(month, tz)
    found = await facts(session, subject, subject_ids, start, end, currency)
    plans = await session.scalars(
        select(Plan).where(
            Plan.month == month, Plan.subject == subject, Plan.subject_id.in_(subject_ids)
        )
    )
    by_id = {plan.subject_id: plan for plan in plans}
    left = working_days_left(month, today)
    result = {}
    for subject_id in subject_ids:
        plan = by_id.get(subject_id)
        figures = Figures(plan.revenue_minor, plan.deals_won, plan.interactions) if plan else None
        result[subject_id] = PlanFact(month, figures, found[subject_id], left)
    return result


async def company_plan_vs_fact(
    session: AsyncSession, actor: User, month: str, today: date, tz: ZoneInfo, currency: str
) -> PlanFact:
    """The company: the sum of the departments' plans against everyone's fact."""
    require_role(actor, Role.ADMIN)
    start, end = month_bounds(month, tz)
    plans = (
        await session.execute(
            select(
                func.count(Plan.id),
                func.coalesce(func.sum(Plan.revenue_minor), 0),
                func.coalesce(func.sum(Plan.deals_won), 0),
                func.coalesce(func.sum(Plan.interactions), 0),
            ).where(Plan.month == month, Plan.subject == PlanSubject.DEPARTMENT)
        )
    ).one()
    won = (
        await session.execute(
            select(func.count(Deal.id), func.coalesce(func.sum(Deal.amount_minor), 0)).where(
                Deal.stage == DealStage.WON,
                Deal.currency == currency,
                Deal.closed_at >= start,
                Deal.closed_at < end,
            )
        )
    ).one()
    logged = await session.scalar(
        select(func.count(Interaction.id)).where(
            Interaction.occurred_at >= start, Interaction.occurred_at < end
        )
    )
    plan = Figures(int(plans[1]), int(plans[2]), int(plans[3])) if plans[0] else None
    fact = Figures(int(won[1]), int(won[0]), int(logged or 0))
    return PlanFact(month, plan, fact, working_days_left(month, today))
