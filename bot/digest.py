"""The daily digest: every morning at their local `digest_time` (08:30 unless changed in
⚙️ Settings, None = off) a head gets their department's news and an admin the company's,
from the morning after they joined (/digest sends it at any time).

What it says, the exceptions first:
- needs attention: complaints past their SLA now, new complaints and SLA breaches of the
  period, low survey scores of the period and loops still open after a low score (no contact
  logged with the client since), open tasks past due, and deals with no next step;
- notable: big wins of the period (won in the default currency, from BIG_DEAL_AMOUNT);
- per manager (per department for admins): contacts logged, deals opened, deals won and their
  sum, then month to date against the plan.

The period is yesterday; on Mondays it is last week (Monday to Sunday), compared with the week
before. "Month to date" is the month of yesterday, so the 1st brings the whole last month.

A deal with no next step is an open deal with no open task linked to it (Task.deal_id) or to
its client (Task.client_id): nobody has planned anything with that client. An overdue open
task still counts as a next step (it is reported among the overdue tasks).

One chart goes with it: month to date by manager (by department for admins), revenue with the
plan attainment. It is its own photo message with a short caption, after the text.

Once a day per person, even with two instances: the user's `digest_checked_on` is set by a
guarded UPDATE (… WHERE digest_checked_on differs from the local date) in the transaction that
queues the messages, and the outbox's dedupe keys are "digest:{user_id}:{local date}" (and
":chart"). The figures are read and the chart is drawn before that transaction, so no write
lock is held while matplotlib works (on SQLite every transaction holds it).

The figures come from bot.services.kpi (access checked there with the recipient as the actor);
the lists of exceptions are the few queries below, scoped by the same slices.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from typing import TypeVar
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date, format_interval
from babel.numbers import format_decimal
from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.render import Chart, Picture, picture, render_or_skip
from bot.services import complaints, kpi, outbox, slices
from bot.services.access import require_role
from bot.services.agenda import parse_agenda_time
from bot.services.errors import DomainError, InvalidInput
from bot.services.kpi import BreakdownRow, Change, Dashboard, Dimension, Kpis, Period, PeriodKind
from bot.services.money import format_money, format_sums, to_minor
from bot.services.parsing import format_when
from bot.services.slices import Slice
from bot.texts import SEVERITY_MARK, one_line, severity_label
from db.models import (
    ACTIVE_COMPLAINT,
    OPEN_STAGES,
    Client,
    Complaint,
    Deal,
    DealStage,
    Role,
    Survey,
    SurveyKind,
    Task,
    TaskStatus,
    User,
)

log = logging.getLogger(__name__)

TEXT_MAX = 4000  # Telegram takes 4096 characters; the plain text is shorter than the HTML
LISTED = 5  # items listed under each exception
ROW_LIMITS = (30, 12, 5)  # managers listed per section, fewer while the text is too long
NAME_MAX = 40


# Texts shared with the KPI screens (bot/handlers/kpi.py)


def month_text(day: date, locale: str, *, year: bool = True) -> str:
    """ "November 2026" / "Ноябрь 2026" (the month's standalone name)."""
    text = format_date(day, "LLLL yyyy" if year else "LLLL", locale=locale)
    return text[:1].upper() + text[1:]


def period_text(period: Period, locale: str) -> str:
    """ "November 18, 2026", "Nov 16 – 22, 2026", "November 2026", "Q4 2026"."""
    if period.kind is PeriodKind.DAY:
        return format_date(period.first, "long", locale=locale)
    if period.kind is PeriodKind.MONTH:
        return month_text(period.first, locale)
    if period.kind is PeriodKind.QUARTER:
        return format_date(period.first, "QQQ y", locale=locale)
    return format_interval(period.first, period.last, "yMMMd", locale=locale)


def chart_footer(period: Period, viewer: User) -> str:
    """What goes under every chart: the period and who it was made for."""
    return _("{period} · for {name}").format(
        period=period_text(period, viewer.locale), name=viewer.full_name
    )


def money(minor: int, currency: str, locale: str) -> str:
    return format_money(minor, currency, locale, compact=True)


def trend(change: Change, locale: str, *, points: bool = False) -> str:
    """ " ▲ 20%", " ▼ 12.5%", " ±0%"; " ▲" when there was nothing before; "" when unknown.
    Points (NPS) show the difference itself: " ▲ 8"."""
    if change.absolute is None:
        return ""
    if change.absolute == 0:
        return " ±0" if points else " ±0%"
    arrow = "▲" if change.absolute > 0 else "▼"
    if points:
        return f" {arrow} {format_decimal(abs(round(change.absolute, 1)), locale=locale)}"
    if change.percent is None:
        return f" {arrow}"
    return f" {arrow} {format_decimal(abs(change.percent), locale=locale)}%"


def percent_text(value: float | None, locale: str) -> str:
    """A share 0..1 as whole per cent, "—" when unknown."""
    if value is None:
        return "—"
    return f"{format_decimal(round(value * 100), locale=locale)}%"


def plan_text(fact_minor: int, plan_minor: int | None, currency: str, locale: str) -> str:
    """ "1.2M ₽ of 2M ₽ (60%)", or "1.2M ₽ · no plan"."""
    fact = money(fact_minor, currency, locale)
    if not plan_minor:
        return _("{fact} · no plan").format(fact=fact)
    return _("{fact} of {plan} ({percent}%)").format(
        fact=fact,
        plan=money(plan_minor, currency, locale),
        percent=fact_minor * 100 // plan_minor,
    )


def row_label(row: BreakdownRow, dimension: Dimension) -> str:
    if row.key is not None and row.label:
        return row.label
    if dimension is Dimension.DEPARTMENT:
        return _("No department")
    return _("Not set")


def dashboard_lines(
    board: Dashboard, currency: str, locale: str, *, stale_days: int | None = None
) -> list[str]:
    """The key figures of a period with their change against the period before: the weekly
    summary's few, and with `stale_days` all those of a KPI screen."""
    now, sales, full = board.current, board.current.sales, stale_days is not None
    lines = [
        _("💰 Revenue won: <b>{amount}</b>{trend}").format(
            amount=money(sales.revenue_minor, currency, locale),
            trend=trend(board.change("sales.revenue_minor"), locale),
        )
    ]
    if full and sales.other_revenue:
        lines.append(
            _("Also won in other currencies: {sums}").format(
                sums=format_sums(sales.other_revenue, locale, currency)
            )
        )
    if full and sales.plan is not None:
        plan = sales.plan.plan.revenue_minor if sales.plan.plan is not None else None
        lines.append(
            _("📋 Plan: {figures}").format(
                figures=plan_text(sales.revenue_minor, plan, currency, locale)
            )
        )
    lines.append(
        _("🏆 Deals won: {won}{won_trend} · opened: {opened}{opened_trend}").format(
            won=sales.won,
            won_trend=trend(board.change("sales.won"), locale),
            opened=sales.opened,
            opened_trend=trend(board.change("sales.opened"), locale),
        )
    )
    if full:
        lines.append(
            _("Lost: {lost} · win rate: {rate}").format(
                lost=sales.lost, rate=percent_text(sales.win_rate, locale)
            )
        )
        if sales.average_deal_minor is not None:
            days = sales.average_cycle_days
            lines.append(
                _("📈 Average deal: {amount} · days to win: {days}").format(
                    amount=money(sales.average_deal_minor, currency, locale),
                    days="—" if days is None else format_decimal(days, locale=locale),
                )
            )
        if sales.pipeline is not None:
            lines.append(
                _("🗂 Open deals: {count} · {amount} · weighted {weighted}").format(
                    count=sales.pipeline.deals,
                    amount=money(sales.pipeline.amount_minor, currency, locale),
                    weighted=money(sales.pipeline.weighted_minor, currency, locale),
                )
            )
    if now.activity is not None:
        lines.append(
            _("📞 Contacts: {count}{trend} · new clients: {clients}").format(
                count=now.activity.contacts,
                trend=trend(board.change("activity.contacts"), locale),
                clients=now.activity.new_clients,
            )
        )
        if full:
            lines.append(
                _("🚗 Visits: {count}{trend}").format(
                    count=now.activity.visits, trend=trend(board.change("activity.visits"), locale)
                )
            )
    service = now.service
    if full:
        lines.append(
            _(
                "⚠️ Complaints opened: {count}{trend} · resolved: {resolved} · "
                "SLA breaches: {breached} · open: {backlog}"
            ).format(
                count=service.opened,
                trend=trend(board.change("service.opened"), locale),
                resolved=service.resolved,
                breached=service.breached,
                backlog=service.backlog,
            )
        )
    else:
        lines.append(
            _("⚠️ Complaints opened: {count}{trend}").format(
                count=service.opened, trend=trend(board.change("service.opened"), locale)
            )
        )
    scores = now.satisfaction
    if scores.nps is not None or (full and scores.sent):
        nps = "—" if scores.nps is None else format_decimal(scores.nps, locale=locale)
        lines.append(
            _("⭐ NPS: {nps}{trend}").format(
                nps=nps, trend=trend(board.change("satisfaction.nps"), locale, points=True)
            )
        )
    if full and scores.sent:
        csat = scores.csat_average
        lines.append(
            _("CSAT: {csat} · surveys answered: {rate}").format(
                csat="—" if csat is None else format_decimal(csat, locale=locale),
                rate=percent_text(scores.response_rate, locale),
            )
        )
    if full and now.health is not None:
        lines.append(
            _("🕰 No contact for {days}+ days: {stale} · overdue tasks: {overdue}").format(
                days=stale_days, stale=now.health.stale_clients, overdue=now.health.overdue_tasks
            )
        )
    return lines


# Settings


def parse_time(value: str) -> str | None:
    """ "0830" (from a button: ":" separates callback fields) → "08:30"; "off" → None."""
    if value == "off":
        return None
    if len(value) != 4 or not value.isdigit() or int(value[:2]) > 23 or int(value[2:]) > 59:
        raise InvalidInput()
    return f"{value[:2]}:{value[2:]}"


async def set_digest_time(session: AsyncSession, user: User, value: str) -> User:
    """Heads and admins only: the local time of their digest, or off."""
    require_role(user, Role.HEAD, Role.ADMIN)
    user.digest_time = parse_time(value)
    await session.commit()
    return user


# The figures


@dataclass(frozen=True)
class Digest:
    viewer: User
    slice: Slice
    by: Dimension  # managers for a head, departments for an admin
    title: str  # the department's name, or "Company"
    today: date  # the viewer's local date
    period: Period  # yesterday, or last week on Mondays
    rows: list[BreakdownRow]  # the period by manager (department)
    weekly: Dashboard | None  # Mondays: last week against the week before
    month: Kpis  # month to date, with the plan
    month_rows: list[BreakdownRow]  # month to date by manager (department), with plans
    complaints_new: int  # opened in the period
    complaints_breached: int  # SLA breaches of the period
    overdue_complaints: list[Complaint]  # unresolved past their SLA now, first due first
    overdue_complaints_total: int
    low_scores: list[Survey]  # low scores answered in the period
    low_scores_total: int
    open_loops: int  # low scores with no contact logged with the client since
    overdue_tasks: list[tuple[str, int]]  # open past due: (owner, count), most first
    overdue_tasks_total: int
    no_next_step: list[Deal]  # open deals nobody planned a task for, biggest first
    no_next_step_total: int
    no_next_step_minor: int  # their sum in the default currency
    big_wins: list[Deal]  # won in the period from BIG_DEAL_AMOUNT, biggest first

    @property
    def is_weekly(self) -> bool:
        return self.weekly is not None

    @property
    def attention(self) -> bool:
        return bool(
            self.overdue_complaints_total
            or self.complaints_new
            or self.complaints_breached
            or self.low_scores_total
            or self.open_loops
            or self.overdue_tasks_total
            or self.no_next_step_total
        )


def digest_slice(user: User) -> Slice:
    """A head's department, the company for an admin (kpi.check_slice refuses the rest,
    a head without a department included)."""
    if user.role is Role.ADMIN:
        return Slice()
    return Slice(department_id=user.department_id)


def _title(user: User, slice: Slice) -> str:
    return user.department.name if user.department and not slice.company else _("Company")


Known = dict[tuple[Slice, str], Digest]  # digests built this morning, by slice and time zone


async def build(
    session: AsyncSession,
    user: User,
    now: datetime,
    settings: Settings,
    *,
    known: Known | None = None,
) -> Digest:
    """The digest of `user` as of `now` (their local morning). Heads and admins only.

    With `known`, the figures of a digest already built for the same slice in the same time
    zone are reused (a department's two heads read them once), after the access check."""
    require_role(user, Role.HEAD, Role.ADMIN)
    slice = digest_slice(user)
    key = (slice, user.timezone)
    if known is not None and key in known:
        await kpi.check_slice(session, user, slice)
        return dataclasses.replace(known[key], viewer=user, title=_title(user, slice))
    tz = ZoneInfo(user.timezone)
    today = now.astimezone(tz).date()
    yesterday = today - timedelta(days=1)
    monday = today.weekday() == 0
    period = Period.of(PeriodKind.WEEK if monday else PeriodKind.DAY, yesterday, tz)
    by = Dimension.DEPARTMENT if slice.company else Dimension.MANAGER
    currency = settings.default_currency
    rows = await kpi.breakdown(session, user, slice, period, by, currency=currency)
    month = Period.of(PeriodKind.MONTH, yesterday, tz)
    options = {"stale_days": settings.stale_days, "currency": currency, "now": now}
    weekly = await kpi.dashboard(session, user, slice, period, **options) if monday else None
    service = await complaints.figures(session, period.start, period.end, slice=slice)
    overdue, overdue_total = await _overdue_complaints(session, slice, now)
    low, low_total = await _low_scores(session, slice, period)
    tasks = await _overdue_tasks(session, slice, now)
    stuck, stuck_total, stuck_minor = await _no_next_step(session, slice, currency)
    built = Digest(
        viewer=user,
        slice=slice,
        by=by,
        title=_title(user, slice),
        today=today,
        period=period,
        rows=rows,
        weekly=weekly,
        month=await kpi.kpis(session, user, slice, month, **options),
        month_rows=await kpi.breakdown(session, user, slice, month, by, currency=currency),
        complaints_new=service.opened,
        complaints_breached=service.breached,
        overdue_complaints=overdue,
        overdue_complaints_total=overdue_total,
        low_scores=low,
        low_scores_total=low_total,
        open_loops=await _open_loops(session, slice),
        overdue_tasks=tasks,
        overdue_tasks_total=sum(count for _name, count in tasks),
        no_next_step=stuck,
        no_next_step_total=stuck_total,
        no_next_step_minor=stuck_minor,
        big_wins=await _big_wins(session, slice, period, currency, settings),
    )
    if known is not None:
        known[key] = built
    return built


def _where(slice: Slice, subject: slices.Subject) -> list:
    return slices.conditions(slice, subject) or []


async def _overdue_complaints(
    session: AsyncSession, slice: Slice, now: datetime
) -> tuple[list[Complaint], int]:
    where = (
        *_where(slice, slices.COMPLAINTS),
        Complaint.status.in_(ACTIVE_COMPLAINT),
        Complaint.sla_due_at < now,
    )
    total = await session.scalar(
        select(func.count(Complaint.id))
        .join(Client, Client.id == Complaint.client_id)
        .where(*where)
    )
    order = (Complaint.sla_due_at, Complaint.id)
    ids = select(Complaint.id).join(Client, Client.id == Complaint.client_id).where(*where)
    return await _listed(session, Complaint, ids, order), int(total or 0)


async def _low_scores(
    session: AsyncSession, slice: Slice, period: Period
) -> tuple[list[Survey], int]:
    """Answers of the period that raised a low-score alert."""
    where = (
        *_where(slice, slices.SURVEYS),
        Survey.alerted_at.is_not(None),
        Survey.answered_at >= period.start,
        Survey.answered_at < period.end,
    )
    total = await session.scalar(
        select(func.count(Survey.id)).join(Client, Client.id == Survey.client_id).where(*where)
    )
    order = (Survey.score, Survey.answered_at, Survey.id)
    ids = select(Survey.id).join(Client, Client.id == Survey.client_id).where(*where)
    return await _listed(session, Survey, ids, order), int(total or 0)


async def _open_loops(session: AsyncSession, slice: Slice) -> int:
    """Low scores still waiting for a contact with the client, whenever they came."""
    found = await session.scalar(
        select(func.count(Survey.id))
        .join(Client, Client.id == Survey.client_id)
        .where(
            *_where(slice, slices.SURVEYS),
            Survey.alerted_at.is_not(None),
            Survey.loop_closed_at.is_(None),
        )
    )
    return int(found or 0)


async def _overdue_tasks(
    session: AsyncSession, slice: Slice, now: datetime
) -> list[tuple[str, int]]:
    rows = await session.execute(
        select(User.full_name, func.count(Task.id))
        .join(User, User.id == Task.owner_id)
        .where(*_where(slice, slices.TASKS), Task.status == TaskStatus.OPEN, Task.due_at < now)
        .group_by(User.id, User.full_name)
    )
    return sorted(((name, int(n)) for name, n in rows.all()), key=lambda row: (-row[1], row[0]))


def _has_next_step() -> ColumnElement[bool]:
    """An open task linked to the deal or to its client (correlated with the outer Deal).
    Two EXISTS rather than one with OR: each can use its own index (an OR made SQLite scan
    every open task for every open deal: 20 s a query on the benchmark's data, now 7 ms)."""
    open_task = Task.status == TaskStatus.OPEN
    return or_(
        exists().where(open_task, Task.deal_id == Deal.id),
        exists().where(open_task, Task.client_id == Deal.client_id),
    )


async def _no_next_step(
    session: AsyncSession, slice: Slice, currency: str
) -> tuple[list[Deal], int, int]:
    where = (*_where(slice, slices.DEALS), Deal.stage.in_(OPEN_STAGES), ~_has_next_step())
    total, amount = (
        await session.execute(
            select(
                func.count(Deal.id),
                func.coalesce(
                    func.sum(case((Deal.currency == currency, Deal.amount_minor), else_=0)), 0
                ),
            ).where(*where)
        )
    ).one()
    order = (Deal.amount_minor.desc(), Deal.id)
    found = await _listed(session, Deal, select(Deal.id).where(*where), order)
    return found, int(total or 0), int(amount or 0)


async def _big_wins(
    session: AsyncSession, slice: Slice, period: Period, currency: str, settings: Settings
) -> list[Deal]:
    ids = select(Deal.id).where(
        *_where(slice, slices.DEALS),
        Deal.stage == DealStage.WON,
        Deal.currency == currency,
        Deal.amount_minor >= to_minor(settings.big_deal_amount),
        and_(Deal.closed_at >= period.start, Deal.closed_at < period.end),
    )
    return await _listed(session, Deal, ids, (Deal.amount_minor.desc(), Deal.id))


Listed = TypeVar("Listed", Complaint, Survey, Deal)


async def _listed(
    session: AsyncSession, model: type[Listed], ids: Select[tuple[int]], order: tuple
) -> list[Listed]:
    """The first LISTED rows of `ids` by `order`, loaded whole. The ids are read first, in a
    query of their own, so the model's eager joins (client, owner, references) run for those
    few rows only: PostgreSQL plans them over every deal and client otherwise, even with the
    ids as a subquery (0.6 s a digest on bench/kpi's data set)."""
    first = list(await session.scalars(ids.order_by(*order).limit(LISTED)))
    if not first:
        return []
    found = await session.scalars(select(model).where(model.id.in_(first)).order_by(*order))
    return list(found.unique())


# The text


def _weekly(digest: Digest, daily: str, weekly: str) -> str:
    """One of two whole texts, so each translates as a sentence."""
    return weekly if digest.is_weekly else daily


def _attention_lines(digest: Digest, currency: str) -> list[str]:
    user, locale = digest.viewer, digest.viewer.locale
    tz = ZoneInfo(user.timezone)
    lines: list[str] = []
    if digest.overdue_complaints_total:
        lines.append(
            _("• Complaints past their SLA: <b>{count}</b>").format(
                count=digest.overdue_complaints_total
            )
        )
        for complaint in digest.overdue_complaints:
            lines.append(
                "   "
                + _("{mark} #{number} {client} · {severity} · due {when}").format(
                    mark=SEVERITY_MARK[complaint.severity],
                    number=complaint.id,
                    client=escape(one_line(complaint.client.name, NAME_MAX)),
                    severity=severity_label(complaint.severity),
                    when=format_when(complaint.sla_due_at, tz, locale),
                )
            )
    if digest.complaints_new:
        text = _weekly(
            digest,
            _("• New complaints yesterday: {count}"),
            _("• New complaints last week: {count}"),
        )
        lines.append(text.format(count=digest.complaints_new))
    if digest.complaints_breached:
        text = _weekly(
            digest, _("• SLA breaches yesterday: {count}"), _("• SLA breaches last week: {count}")
        )
        lines.append(text.format(count=digest.complaints_breached))
    if digest.low_scores_total:
        text = _weekly(
            digest,
            _("• Low survey scores yesterday: <b>{count}</b>"),
            _("• Low survey scores last week: <b>{count}</b>"),
        )
        lines.append(text.format(count=digest.low_scores_total))
        for survey in digest.low_scores:
            kind = "NPS" if survey.kind is SurveyKind.NPS else "CSAT"
            owner = escape(one_line(survey.owner.full_name, NAME_MAX)) if survey.owner else "—"
            client = escape(one_line(survey.client.name, NAME_MAX))
            lines.append(f"   {client}: {kind} {survey.score} · {owner}")
    if digest.open_loops:
        lines.append(
            _("• Low scores with no contact since: {count}").format(count=digest.open_loops)
        )
    if digest.overdue_tasks_total:
        people = ", ".join(
            f"{escape(one_line(name, NAME_MAX))} {count}"
            for name, count in digest.overdue_tasks[:LISTED]
        )
        lines.append(
            _("• Overdue tasks: <b>{count}</b> ({people})").format(
                count=digest.overdue_tasks_total, people=people
            )
        )
    if digest.no_next_step_total:
        lines.append(
            _("• Deals with no next step: <b>{count}</b> · {amount}").format(
                count=digest.no_next_step_total,
                amount=money(digest.no_next_step_minor, currency, locale),
            )
        )
        lines += ["   " + _deal_line(deal, locale) for deal in digest.no_next_step]
    return lines


def _deal_line(deal: Deal, locale: str) -> str:
    title, client = (
        escape(one_line(deal.title, NAME_MAX)),
        escape(one_line(deal.client.name, NAME_MAX)),
    )
    amount = money(deal.amount_minor, deal.currency, locale)
    return f"{title} — {client} · {amount} · {escape(one_line(deal.owner.full_name, NAME_MAX))}"


def _row_line(row: BreakdownRow, digest: Digest, currency: str) -> str:
    """ "Anna: 3 · 1 · 2 (1.2M ₽)": contacts, deals opened, won (their sum)."""
    won = str(row.won)
    if row.revenue_minor:
        won += f" ({money(row.revenue_minor, currency, digest.viewer.locale)})"
    contacts = "—" if row.contacts is None else str(row.contacts)
    name = escape(one_line(row_label(row, digest.by), NAME_MAX))
    return f"{name}: {contacts} · {row.opened} · {won}"


def _month_lines(digest: Digest, currency: str, limit: int) -> list[str]:
    locale = digest.viewer.locale
    fact = digest.month.sales.plan
    month = month_text(digest.month.period.first, locale, year=False)
    revenue = digest.month.sales.revenue_minor
    plan = fact.plan.revenue_minor if fact is not None and fact.plan is not None else None
    lines = [
        _("📋 <b>{month} to date</b>: {figures}").format(
            month=month, figures=plan_text(revenue, plan, currency, locale)
        )
    ]
    for row in digest.month_rows[:limit]:
        name = escape(one_line(row_label(row, digest.by), NAME_MAX))
        figures = plan_text(row.revenue_minor, row.plan_revenue_minor, currency, locale)
        lines.append(f"{name}: {figures}")
    if len(digest.month_rows) > limit:
        lines.append(_("…and {count} more.").format(count=len(digest.month_rows) - limit))
    return lines


def digest_text(digest: Digest, currency: str) -> str:
    """The digest as HTML, under Telegram's 4096 characters: the lists of managers get shorter
    until it fits."""
    for limit in ROW_LIMITS:
        text = _text(digest, currency, limit)
        if len(text) <= TEXT_MAX:
            return text
    return text[:TEXT_MAX]  # unreachable with the limits above; never more than Telegram takes


def _text(digest: Digest, currency: str, limit: int) -> str:
    locale = digest.viewer.locale
    title = escape(digest.title)
    if digest.weekly is not None:
        heading = _("📨 <b>Weekly summary · {title}</b>").format(title=title)
        when = _("{period} · compared with {before}").format(
            period=period_text(digest.period, locale),
            before=period_text(digest.period.previous(), locale),
        )
    else:
        heading = _("📨 <b>Daily digest · {title}</b>").format(title=title)
        when = format_date(digest.period.first, "full", locale=locale)
    parts = [f"{heading}\n{when}"]
    attention = _attention_lines(digest, currency)
    if attention:
        parts.append("\n".join([_("⚠️ <b>Needs attention</b>"), *attention]))
    else:
        parts.append(_("✅ Nothing needs your attention."))
    if digest.big_wins:
        wins = [f"• {_deal_line(deal, locale)}" for deal in digest.big_wins]
        parts.append("\n".join([_("🏆 <b>Big wins</b>"), *wins]))
    if digest.weekly is not None:
        heading = _("📈 <b>Last week against the week before</b>")
        parts.append("\n".join([heading, *dashboard_lines(digest.weekly, currency, locale)]))
    if digest.by is Dimension.DEPARTMENT:
        heading = _weekly(
            digest,
            _("📅 <b>Yesterday by department</b>: contacts · new deals · won"),
            _("📅 <b>Last week by department</b>: contacts · new deals · won"),
        )
    else:
        heading = _weekly(
            digest,
            _("📅 <b>Yesterday by manager</b>: contacts · new deals · won"),
            _("📅 <b>Last week by manager</b>: contacts · new deals · won"),
        )
    rows = [_row_line(row, digest, currency) for row in digest.rows[:limit]]
    if len(digest.rows) > limit:
        rows.append(_("…and {count} more.").format(count=len(digest.rows) - limit))
    parts.append("\n".join([heading, *(rows or [_("Nobody here yet.")])]))
    parts.append("\n".join(_month_lines(digest, currency, limit)))
    return "\n\n".join(parts)


# The chart


@dataclass(frozen=True)
class DigestChart:
    caption: str
    picture: Picture


def digest_chart(digest: Digest, currency: str) -> DigestChart:
    """Month to date by manager (department): revenue and plan attainment. Translated here,
    drawn later by the chart worker (bot.render) outside any transaction."""
    user = digest.viewer
    month = month_text(digest.month.period.first, user.locale, year=False)
    title = _("{month} to date: revenue and plan").format(month=month)
    rows = [
        (row_label(row, digest.by), row.revenue_minor, row.plan_percent)
        for row in digest.month_rows
    ]
    chart = picture(
        Chart.LEADERBOARD,
        rows,
        currency,
        user.locale,
        title,
        chart_footer(digest.month.period, user),
        _("Plan attainment"),
    )
    return DigestChart(caption=f"📊 {title}", picture=chart)


# The job


def due_day(user: User, now: datetime) -> str | None:
    """The user's local date when their digest time has come today and it has not gone yet."""
    at = parse_agenda_time(user.digest_time)
    if at is None or not user.is_active or user.unreachable:
        return None
    if user.role not in (Role.HEAD, Role.ADMIN):
        return None
    tz = ZoneInfo(user.timezone)
    local = now.astimezone(tz)
    if local.date() <= user.created_at.astimezone(tz).date():
        return None  # the first one comes the morning after one joins, not right after /start
    today = local.date().isoformat()
    if user.digest_checked_on == today or local.time() < at:
        return None
    return today


async def users_due(session: AsyncSession, now: datetime) -> list[tuple[int, str]]:
    """(user id, local date) of the heads and admins whose digest is due; local times are
    compared in Python (zones differ)."""
    candidates = await session.scalars(
        select(User).where(
            User.is_active.is_(True),
            User.role.in_((Role.HEAD, Role.ADMIN)),
            User.digest_time.is_not(None),
        )
    )
    due = []
    for user in candidates:
        day = due_day(user, now)
        if day is not None:
            due.append((user.id, day))
    return due


async def claim_day(session: AsyncSession, user_id: int, day: str) -> bool:
    """Marks the user's digest of `day` as done, unless someone did: True for the one caller
    that changed the row (PostgreSQL makes a concurrent UPDATE wait and re-check the WHERE;
    SQLite runs one writer at a time)."""
    result = await session.execute(
        update(User)
        .where(
            User.id == user_id,
            or_(User.digest_checked_on.is_(None), User.digest_checked_on != day),
        )
        .values(digest_checked_on=day),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount == 1


async def send_digests(
    session_factory: async_sessionmaker[AsyncSession],
    i18n: I18n,
    clock: Clock,
    settings: Settings,
) -> int:
    """Queues the digest (text, then the chart) of every head and admin whose local digest
    time has come today; returns the messages queued. One failing digest does not stop the
    others: it is tried again at the next sweep.

    Each digest's figures are read in turn; its chart is drawn by the chart worker while the
    next one's are read, and the messages are queued once the chart is back."""
    now = clock.now()
    async with session_factory() as session:
        due = await users_due(session, now)
    known: Known = {}
    writing = asyncio.Lock()  # one digest queued at a time: one database connection for it
    queuing: dict[int, asyncio.Task[int]] = {}
    for user_id, day in due:
        try:
            composed = await _compose(session_factory, i18n, settings, user_id, now, known)
        except Exception:
            log.exception("the digest of user %s failed", user_id)
            continue
        queuing[user_id] = asyncio.create_task(
            _queue(session_factory, writing, user_id, day, now, composed)
        )
    queued = 0
    for user_id, task in queuing.items():
        try:
            queued += await task
        except Exception:
            log.exception("the digest of user %s failed", user_id)
    return queued


@dataclass(frozen=True)
class Composed:
    text: str | None  # None: nothing to report on (a head without a department)
    chart: DigestChart | None


async def _compose(
    session_factory: async_sessionmaker[AsyncSession],
    i18n: I18n,
    settings: Settings,
    user_id: int,
    now: datetime,
    known: Known,
) -> Composed:
    currency = settings.default_currency
    async with session_factory() as session:
        user = await session.get(User, user_id)
        if user is None:
            return Composed(None, None)
        with i18n.context(), i18n.use_locale(user.locale):
            try:
                digest = await build(session, user, now, settings, known=known)
            except DomainError:  # e.g. a head without a department: nothing to report on
                return Composed(None, None)
            return Composed(digest_text(digest, currency), digest_chart(digest, currency))


async def _queue(
    session_factory: async_sessionmaker[AsyncSession],
    writing: asyncio.Lock,
    user_id: int,
    day: str,
    now: datetime,
    composed: Composed,
) -> int:
    """The chart drawn (one that fails is left out: the text still goes), then in one
    transaction: the day claimed and the messages queued."""
    chart = composed.chart
    png = (await render_or_skip(chart.picture))[0] if chart is not None else None
    async with writing, session_factory() as session:
        if not await claim_day(session, user_id, day):
            return 0  # another instance (or an earlier sweep) has done it
        user = await session.get(User, user_id)
        queued = 0
        if user is not None and composed.text is not None:
            key = f"digest:{user_id}:{day}"
            queued += await outbox.enqueue(
                session, user, key, composed.text, protect=True, not_before=now
            )
            if png is not None and chart is not None:
                queued += await outbox.enqueue(
                    session,
                    user,
                    f"{key}:chart",
                    chart.caption,
                    protect=True,
                    not_before=now,
                    photo=png,
                )
        await session.commit()
    return queued
