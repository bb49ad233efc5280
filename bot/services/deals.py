"""Deals and the sales pipeline.

A deal belongs to a client and to the client's owner; open deals move with the client when it
is reassigned (won and lost ones stay credited to whoever closed them). Who may see a deal is
who may see its client. Every stage change is a compare-and-set on `Deal.version`, so a double
tap or two people acting at once change a deal once and write one history row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import catalog, parsing
from bot.services.access import require_role, visible_clients, visible_users
from bot.services.audit import AuditAction
from bot.services.clients import get_client, get_writable_client
from bot.services.errors import N_, DomainError, InvalidInput, NotFound
from bot.services.money import to_minor
from db.models import (
    OPEN_STAGES,
    AppSetting,
    Client,
    Deal,
    DealStage,
    DealStageChange,
    Department,
    Event,
    EventKind,
    Interaction,
    ReferenceItem,
    ReferenceKind,
    Role,
    User,
)
from db.repositories import AuditRepository, UserRepository
from db.types import utcnow

TITLE_MAX = 200
SUMMARY_MAX = 2000
COMMENT_MAX = 1000
PAGE_SIZE = 8
HISTORY_MAX = 30

DEFAULT_PROBABILITIES = {
    DealStage.NEW: 10,
    DealStage.QUALIFIED: 25,
    DealStage.PROPOSAL: 50,
    DealStage.NEGOTIATION: 75,
}
PROBABILITY_KEY = "stage_probability.{stage}"

EDITABLE_FIELDS = ("title", "amount", "product_line", "close", "summary")


class DealChanged(DomainError):
    """The deal moved on since the button was shown (a double tap, or someone else acted)."""

    message = N_("This deal has just changed. Here is how it stands now.")


class DealClosed(DomainError):
    message = N_("This deal is closed. Pick an open stage first to reopen it.")


def next_stage(stage: DealStage) -> DealStage | None:
    """The stage after an open one (negotiation is followed by "won"), None for closed ones."""
    if not stage.is_open:
        return None
    index = OPEN_STAGES.index(stage)
    return OPEN_STAGES[index + 1] if index + 1 < len(OPEN_STAGES) else DealStage.WON


def stage_from(value: str) -> DealStage:
    """A stage from callback data, which is never trusted."""
    try:
        return DealStage(value)
    except ValueError:
        raise InvalidInput() from None


def clean_title(raw: str | None) -> str:
    return parsing.clean_text(raw, limit=TITLE_MAX)


def clean_summary(raw: str | None) -> str:
    return parsing.clean_text(raw, limit=SUMMARY_MAX)


def clean_comment(raw: str | None) -> str:
    return parsing.clean_text(raw, limit=COMMENT_MAX)


# Expected close dates: a day in the user's own calendar


def _month_end(day: date) -> date:
    first_of_next = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first_of_next - timedelta(days=1)


def quick_close_dates(today: date) -> dict[str, date]:
    """The close dates offered as buttons, from the user's local today."""
    end_of_month = _month_end(today)
    return {
        "in_2_weeks": today + timedelta(days=14),
        "end_of_month": end_of_month,
        "end_of_next_month": _month_end(end_of_month + timedelta(days=1)),
    }


def parse_close(text: str, now: datetime, tz: ZoneInfo) -> date:
    """A typed close date (the contact log's parser), as a day in the user's zone. A date
    alone means the end of that day, so today is still accepted."""
    moment = parsing.parse_when(text, now, tz, default_hour=23)
    return moment.astimezone(tz).date()


def close_from_iso(value: str, today: date) -> date:
    """A close date from a quick button (never trusted); a day already gone is refused."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput() from None
    if day < today:
        raise InvalidInput(parsing.WHEN_PAST)
    return day


# Access


def visible_deals(actor: User) -> ColumnElement[bool]:
    """A deal is visible to whoever may see its client."""
    if actor.role is Role.ADMIN and actor.is_active:
        return true()
    if not actor.is_active:
        return false()
    return Deal.client_id.in_(select(Client.id).where(visible_clients(actor)).scalar_subquery())


@dataclass(frozen=True)
class Scope:
    """Whose deals: one owner, one department, or (both None) the whole company."""

    owner_id: int | None = None
    department_id: int | None = None

    @property
    def company(self) -> bool:
        return self.owner_id is None and self.department_id is None


async def check_scope(session: AsyncSession, actor: User, scope: Scope) -> None:
    """Managers see their own deals; heads their department's (and each member's); admins all.
    Anything else is "not found", so a forged scope does not even learn that it exists."""
    if not actor.is_active:
        raise NotFound()
    if scope.owner_id is not None:
        if scope.owner_id == actor.id:
            return
        if actor.role not in (Role.HEAD, Role.ADMIN):
            raise NotFound()
        if await UserRepository(session).get(scope.owner_id, visible_users(actor)) is None:
            raise NotFound()
        return
    if actor.role not in (Role.HEAD, Role.ADMIN):
        raise NotFound()
    if actor.role is Role.HEAD and (
        scope.department_id is None or scope.department_id != actor.department_id
    ):
        raise NotFound()
    if (
        scope.department_id is not None
        and await session.get(Department, scope.department_id) is None
    ):
        raise NotFound()


def owners_of(scope: Scope) -> ColumnElement[bool]:
    """The condition on Deal.owner_id (or any owner_id column's user) for a checked scope."""
    if scope.owner_id is not None:
        return Deal.owner_id == scope.owner_id
    if scope.department_id is not None:
        team = select(User.id).where(User.department_id == scope.department_id)
        return Deal.owner_id.in_(team.scalar_subquery())
    return true()


def home_scope(actor: User) -> Scope:
    """What "Deals" opens on: a manager's own, a head's department, an admin's company."""
    if actor.role is Role.HEAD and actor.department_id is not None:
        return Scope(department_id=actor.department_id)
    if actor.role is Role.ADMIN:
        return Scope()
    return Scope(owner_id=actor.id)


# Stage probabilities (admin-editable, kept in app_settings)


async def probabilities(session: AsyncSession) -> dict[DealStage, int]:
    rows = await session.scalars(
        select(AppSetting).where(AppSetting.key.like(PROBABILITY_KEY.format(stage="%")))
    )
    found = {row.key: row.value for row in rows}
    result = {}
    for stage, default in DEFAULT_PROBABILITIES.items():
        value = found.get(PROBABILITY_KEY.format(stage=stage.value))
        result[stage] = int(value) if value and value.isdigit() else default
    result[DealStage.WON], result[DealStage.LOST] = 100, 0
    return result


def parse_probability(raw: str) -> int:
    text = (raw or "").strip().rstrip("%").strip()
    if not text.isdigit() or not 0 <= int(text) <= 100:
        raise InvalidInput(N_("Type a whole number of per cent from 0 to 100."))
    return int(text)


async def set_probability(
    session: AsyncSession, actor: User, stage: DealStage, percent: int
) -> dict[DealStage, int]:
    require_role(actor, Role.ADMIN)
    if not stage.is_open or not 0 <= percent <= 100:
        raise InvalidInput()
    key = PROBABILITY_KEY.format(stage=stage.value)
    old = (await probabilities(session))[stage]
    if old != percent:
        setting = await session.get(AppSetting, key)
        if setting is None:
            session.add(AppSetting(key=key, value=str(percent)))
        else:
            setting.value = str(percent)
        AuditRepository(session).record(
            actor.id,
            AuditAction.SETTING_CHANGED,
            "app_setting",
            None,
            key=key,
            old=old,
            new=percent,
        )
        await session.commit()
    return await probabilities(session)


# Reading


async def get_deal(session: AsyncSession, actor: User, deal_id: int) -> Deal:
    deal = await session.scalar(select(Deal).where(Deal.id == deal_id, visible_deals(actor)))
    if deal is None:
        raise NotFound()
    return deal


def is_stale(deal: Deal, now: datetime, today: date, stale_days: int) -> bool:
    """No activity for `stale_days`, or past its expected close date, while still open."""
    if not deal.stage.is_open:
        return False
    overdue = deal.expected_close_on is not None and deal.expected_close_on < today
    return overdue or deal.last_activity_at < now - timedelta(days=stale_days)


def stale_condition(now: datetime, today: date, stale_days: int) -> ColumnElement[bool]:
    return and_(
        Deal.stage.in_(OPEN_STAGES),
        or_(
            Deal.last_activity_at < now - timedelta(days=stale_days),
            Deal.expected_close_on < today,
        ),
    )


async def deals_page(
    session: AsyncSession,
    actor: User,
    scope: Scope,
    page: int = 0,
    *,
    stage: DealStage | None = None,
    client_id: int | None = None,
) -> tuple[Sequence[Deal], int]:
    """Open deals of a scope (or of one client, open and closed), by stage then close date."""
    await check_scope(session, actor, scope)
    conditions: list[ColumnElement[bool]] = [owners_of(scope), visible_deals(actor)]
    if client_id is not None:
        await get_client(session, actor, client_id)
        conditions.append(Deal.client_id == client_id)
    elif stage is not None:
        conditions.append(Deal.stage == stage)
    else:
        conditions.append(Deal.stage.in_(OPEN_STAGES))
    order = [
        Deal.closed_at.is_not(None),
        _stage_order(),
        Deal.expected_close_on.is_(None),  # dated first on SQLite and PostgreSQL alike
        Deal.expected_close_on,
        Deal.id,
    ]
    deals = await session.scalars(
        select(Deal)
        .where(*conditions)
        .order_by(*order)
        .offset(max(page, 0) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    total = await session.scalar(select(func.count()).select_from(Deal).where(*conditions))
    return deals.all(), total or 0


async def client_deals(
    session: AsyncSession, actor: User, client_id: int, page: int = 0
) -> tuple[Client, Sequence[Deal], int]:
    """All deals of one client for its card, open first: whoever may see the client sees them,
    also the won ones still credited to a former owner (a scope by owner would hide those)."""
    client = await get_client(session, actor, client_id)
    conditions = [Deal.client_id == client.id, visible_deals(actor)]
    order = [
        Deal.closed_at.is_not(None),
        Deal.closed_at.desc(),
        _stage_order(),
        Deal.expected_close_on.is_(None),
        Deal.expected_close_on,
        Deal.id,
    ]
    deals = await session.scalars(
        select(Deal)
        .where(*conditions)
        .order_by(*order)
        .offset(max(page, 0) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    total = await session.scalar(select(func.count()).select_from(Deal).where(*conditions))
    return client, deals.all(), total or 0


def _stage_order() -> ColumnElement[int]:
    return case({stage.value: index for index, stage in enumerate(DealStage)}, value=Deal.stage)


# Pipeline figures: SQL aggregates by stage and currency, then weighted with the probabilities.

Sums = dict[str, int]  # currency → minor units


@dataclass
class PipelineRow:
    key: int | str | None  # a stage value, a user id, a department id or a product line id
    label: str = ""
    count: int = 0
    sums: Sums = field(default_factory=dict)
    weighted: Sums = field(default_factory=dict)
    stale: int = 0


@dataclass
class Pipeline:
    total: PipelineRow
    by_stage: list[PipelineRow]
    by_owner: list[PipelineRow]
    by_product_line: list[PipelineRow]
    by_department: list[PipelineRow]


def _add(row: PipelineRow, currency: str, count: int, amount: int, percent: int) -> None:
    row.count += count
    row.sums[currency] = row.sums.get(currency, 0) + amount
    weighted = (Decimal(amount) * percent / 100).to_integral_value(ROUND_HALF_UP)
    row.weighted[currency] = row.weighted.get(currency, 0) + int(weighted)


async def pipeline(
    session: AsyncSession, actor: User, scope: Scope, now: datetime, today: date, stale_days: int
) -> Pipeline:
    """Open deals of a scope: counts, sums and weighted sums per stage, owner, product line and
    department (the last three for heads and admins)."""
    await check_scope(session, actor, scope)
    percents = await probabilities(session)
    stale = func.sum(case((stale_condition(now, today, stale_days), 1), else_=0)).label("stale")
    rows = (
        await session.execute(
            select(
                Deal.stage,
                Deal.owner_id,
                User.full_name,
                User.department_id,
                Deal.product_line_id,
                Deal.currency,
                func.count().label("count"),
                func.sum(Deal.amount_minor).label("amount"),
                stale,
            )
            .join(User, User.id == Deal.owner_id)
            .where(owners_of(scope), Deal.stage.in_(OPEN_STAGES))
            .group_by(
                Deal.stage,
                Deal.owner_id,
                User.full_name,
                User.department_id,
                Deal.product_line_id,
                Deal.currency,
            )
        )
    ).all()
    total = PipelineRow(None)
    by_stage = {stage: PipelineRow(stage.value) for stage in OPEN_STAGES}
    by_owner: dict[int, PipelineRow] = {}
    by_line: dict[int | None, PipelineRow] = {}
    by_department: dict[int | None, PipelineRow] = {}
    for (
        stage,
        owner_id,
        owner_name,
        department_id,
        line_id,
        currency,
        count,
        amount,
        n_stale,
    ) in rows:
        percent = percents[stage]
        for row in (
            total,
            by_stage[stage],
            by_owner.setdefault(owner_id, PipelineRow(owner_id, owner_name)),
            by_line.setdefault(line_id, PipelineRow(line_id)),
            by_department.setdefault(department_id, PipelineRow(department_id)),
        ):
            _add(row, currency, count, int(amount or 0), percent)
            row.stale += int(n_stale or 0)
    names = await _reference_names(session, [k for k in by_line if k is not None])
    for key, row in by_line.items():
        row.label = names.get(key, "") if key is not None else ""
    departments = await _department_names(session, [k for k in by_department if k is not None])
    for key, row in by_department.items():
        row.label = departments.get(key, "") if key is not None else ""

    def biggest_first(rows: dict) -> list[PipelineRow]:
        return sorted(rows.values(), key=lambda r: (-sum(r.weighted.values()), str(r.label)))

    return Pipeline(
        total=total,
        by_stage=list(by_stage.values()),
        by_owner=biggest_first(by_owner),
        by_product_line=biggest_first(by_line),
        by_department=biggest_first(by_department),
    )


async def _reference_names(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(ReferenceItem.id, ReferenceItem.name).where(ReferenceItem.id.in_(ids))
    )
    return {item_id: name for item_id, name in rows.all()}


async def _department_names(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Department.id, Department.name).where(Department.id.in_(ids))
    )
    return {item_id: name for item_id, name in rows.all()}


async def client_open_deals(session: AsyncSession, actor: User, client_id: int) -> tuple[int, Sums]:
    """How many open deals a client has and their sums, for the client card."""
    rows = await session.execute(
        select(Deal.currency, func.count(), func.sum(Deal.amount_minor))
        .where(Deal.client_id == client_id, Deal.stage.in_(OPEN_STAGES), visible_deals(actor))
        .group_by(Deal.currency)
    )
    count, sums = 0, {}
    for currency, n, amount in rows.all():
        count += n
        sums[currency] = int(amount or 0)
    return count, sums


# Writing


@dataclass(frozen=True)
class DealDraft:
    client_id: int
    title: str
    amount_minor: int
    currency: str
    product_line_id: int | None = None
    expected_close_on: date | None = None
    summary: str | None = None


def check_amount(amount: Decimal) -> int:
    minor = to_minor(amount)
    if minor <= 0:
        raise InvalidInput(N_("The amount must be more than zero."))
    return minor


async def create_deal(session: AsyncSession, actor: User, draft: DealDraft) -> Deal:
    client = await get_writable_client(session, actor, draft.client_id)
    if draft.product_line_id is not None:
        await catalog.pickable_item(session, ReferenceKind.PRODUCT_LINE, draft.product_line_id)
    if draft.amount_minor <= 0:
        raise InvalidInput(N_("The amount must be more than zero."))
    now = utcnow()
    deal = Deal(
        client_id=client.id,
        owner_id=client.owner_id,
        created_by_id=actor.id,
        title=clean_title(draft.title),
        product_line_id=draft.product_line_id,
        amount_minor=draft.amount_minor,
        currency=draft.currency,
        stage=DealStage.NEW,
        expected_close_on=draft.expected_close_on,
        summary=clean_summary(draft.summary) if draft.summary else None,
        last_activity_at=now,
        created_at=now,
    )
    session.add(deal)
    await session.flush()
    session.add(
        DealStageChange(
            deal_id=deal.id,
            from_stage=None,
            to_stage=DealStage.NEW,
            actor_id=actor.id,
            amount_minor=deal.amount_minor,
            created_at=now,
        )
    )
    session.add(
        Event(kind=EventKind.DEAL_CREATED, client_id=client.id, deal_id=deal.id, actor_id=actor.id)
    )
    await session.commit()
    return await get_deal(session, actor, deal.id)


async def change_stage(
    session: AsyncSession,
    actor: User,
    deal_id: int,
    to_stage: DealStage,
    expected_version: int,
    *,
    amount_minor: int | None = None,
    lost_reason_id: int | None = None,
    comment: str | None = None,
) -> Deal:
    """Moves a deal to `to_stage` if it is still at `expected_version`; otherwise DealChanged.
    Won asks for the final amount; lost for a reason from the admin's list (none while the
    list is empty)."""
    deal = await get_deal(session, actor, deal_id)
    if deal.version != expected_version or deal.stage is to_stage:
        raise DealChanged()
    now = utcnow()
    values: dict = {
        "stage": to_stage,
        "version": Deal.version + 1,
        "last_activity_at": now,
        "closed_at": None if to_stage.is_open else now,
        "lost_reason_id": None,
        "lost_comment": None,
    }
    if to_stage is DealStage.WON:
        if amount_minor is None or amount_minor <= 0:
            raise InvalidInput(N_("The amount must be more than zero."))
        values["amount_minor"] = amount_minor
    if to_stage is DealStage.LOST:
        if lost_reason_id is not None:
            await catalog.pickable_item(session, ReferenceKind.LOST_REASON, lost_reason_id)
        elif await catalog.pickable_items(session, ReferenceKind.LOST_REASON):
            raise InvalidInput()  # a reason is asked whenever the admin's list has any
        values["lost_reason_id"] = lost_reason_id
        values["lost_comment"] = clean_comment(comment) if comment else None
    result = await session.execute(
        update(Deal)
        .where(Deal.id == deal.id, Deal.version == expected_version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # someone else's change committed first
        # Nothing was written: end the transaction without a rollback, which would expire
        # everything the caller holds (the acting user too) and break its next attribute read.
        await session.commit()
        raise DealChanged()
    session.add(
        DealStageChange(
            deal_id=deal.id,
            from_stage=deal.stage,
            to_stage=to_stage,
            actor_id=actor.id,
            amount_minor=values.get("amount_minor", deal.amount_minor),
            comment=values["lost_comment"],
            created_at=now,
        )
    )
    kind = {DealStage.WON: EventKind.DEAL_WON, DealStage.LOST: EventKind.DEAL_LOST}.get(to_stage)
    if kind is not None:
        session.add(Event(kind=kind, client_id=deal.client_id, deal_id=deal.id, actor_id=actor.id))
    await session.commit()
    session.expire(deal)  # the UPDATE above bypassed it; expired attributes reload on access
    return await get_deal(session, actor, deal_id)


async def update_deal(session: AsyncSession, actor: User, deal_id: int, field: str, value) -> Deal:
    """One field from the card's Edit (open deals only): title, amount (minor units and
    currency), product line id, expected close date or summary."""
    deal = await get_deal(session, actor, deal_id)
    if not deal.stage.is_open:
        raise DealClosed()
    if field == "title":
        deal.title = clean_title(value)
    elif field == "amount":
        minor, currency = value
        if minor <= 0:
            raise InvalidInput(N_("The amount must be more than zero."))
        deal.amount_minor, deal.currency = minor, currency
    elif field == "product_line":
        if value is not None:
            await catalog.pickable_item(session, ReferenceKind.PRODUCT_LINE, value)
        deal.product_line_id = value
    elif field == "close":
        deal.expected_close_on = value
    elif field == "summary":
        deal.summary = clean_summary(value) if value else None
    else:
        raise InvalidInput()
    deal.version += 1
    deal.last_activity_at = utcnow()
    await session.commit()
    session.expire(deal)  # a new product line id must reload the product line itself
    return await get_deal(session, actor, deal_id)


async def touch_client_deals(session: AsyncSession, client_id: int, now: datetime) -> None:
    """A contact logged with a client is activity on all of its open deals."""
    await session.execute(
        update(Deal)
        .where(Deal.client_id == client_id, Deal.stage.in_(OPEN_STAGES))
        .values(last_activity_at=now)
        .execution_options(synchronize_session=False)
    )


# History


@dataclass
class DealHistory:
    deal: Deal
    changes: Sequence[DealStageChange]
    contacts: Sequence[Interaction]


async def history(session: AsyncSession, actor: User, deal_id: int) -> DealHistory:
    deal = await get_deal(session, actor, deal_id)
    changes = await session.scalars(
        select(DealStageChange)
        .where(DealStageChange.deal_id == deal.id)
        .order_by(DealStageChange.created_at.desc(), DealStageChange.id.desc())
        .limit(HISTORY_MAX)
    )
    contacts = await session.scalars(
        select(Interaction)
        .where(Interaction.deal_id == deal.id)
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(HISTORY_MAX)
    )
    return DealHistory(deal, changes.all(), contacts.all())


# Notifications to heads (consumed by bot/jobs.py)


async def pending_events(session: AsyncSession, limit: int = 200) -> Sequence[Event]:
    rows = await session.scalars(
        select(Event).where(Event.notified_at.is_(None)).order_by(Event.id).limit(limit)
    )
    return rows.all()


async def heads_of(session: AsyncSession, user: User) -> Sequence[User]:
    """The active heads of a user's department (not the user themself)."""
    if user.department_id is None:
        return []
    rows = await session.scalars(
        select(User).where(
            User.department_id == user.department_id,
            User.role == Role.HEAD,
            User.is_active.is_(True),
            User.id != user.id,
        )
    )
    return rows.all()
