"""KPIs checked against numbers worked out by hand from one fixed data set, on SQLite and on
PostgreSQL: the dashboard of a manager, a head's department, a product line, a lead source
and the company, with the month before; every breakdown; the series for the charts; who may
see what; and period boundaries in the viewer's time zone (Moscow, and a DST change in Berlin).

The viewer is in Moscow (UTC+3, no DST) and looks at November 2026 on the morning of
1 December: NOW is 09:00 local. Times below are Moscow local times unless they say UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.complaints import ComplaintFigures
from bot.services.errors import InvalidInput, NotFound
from bot.services.kpi import (
    Activity,
    BreakdownRow,
    Change,
    Dimension,
    Health,
    Kpis,
    OpenPipeline,
    Period,
    PeriodKind,
    Sales,
    Slice,
    WeekScores,
    activity_by_day,
    breakdown,
    change,
    dashboard,
    kpis,
    revenue_by_day,
    satisfaction_by_week,
    top,
)
from bot.services.parsing import normalize_name, search_key
from bot.services.plans import Figures, PlanFact
from bot.services.surveys import SurveyFigures
from db.models import (
    Client,
    ClientChat,
    ClientKind,
    Complaint,
    ComplaintSeverity,
    ComplaintStatus,
    Deal,
    DealStage,
    Department,
    DepartmentKind,
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
    SurveyTrigger,
    Task,
    TaskStatus,
    User,
)

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 12, 1, 9, tzinfo=MSK)  # 06:00 UTC
NOVEMBER = Period.of(PeriodKind.MONTH, date(2026, 11, 15), MSK)
OCTOBER = NOVEMBER.previous()
RUB = "RUB"
STALE_DAYS = 30  # cutoff: 1 November 09:00 local


def msk(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MSK)


def kinds(**counts: int) -> dict[InteractionKind, int]:
    return {kind: counts.get(kind.value, 0) for kind in InteractionKind}


def busy_days(days: dict[date, dict[InteractionKind, int]]) -> dict[date, dict[str, int]]:
    """activity_by_day without the zeros, kinds by name."""
    found = {
        day: {kind.value: n for kind, n in counts.items() if n} for day, counts in days.items()
    }
    return {day: counts for day, counts in found.items() if counts}


@dataclass
class Data:
    admin: User
    head1: User
    head2: User
    m1: User  # Anna, North
    m2: User  # Boris, North
    m3: User  # Vera, South
    m4: User  # Gleb, South: sells nothing
    north: int
    south: int
    p1: int
    p2: int
    retail: int
    farming: int
    moscow: int
    kazan: int
    web: int
    expo: int


@pytest.fixture
async def data(session: AsyncSession) -> Data:
    north = Department(name="North", kind=DepartmentKind.SALES)
    south = Department(name="South", kind=DepartmentKind.SALES)
    R = ReferenceKind
    items = {
        key: ReferenceItem(kind=kind, name=name)
        for key, kind, name in (
            ("p1", R.PRODUCT_LINE, "Pumps"),
            ("p2", R.PRODUCT_LINE, "Valves"),
            ("retail", R.INDUSTRY, "Retail"),
            ("farming", R.INDUSTRY, "Farming"),
            ("moscow", R.REGION, "Moscow"),
            ("kazan", R.REGION, "Kazan"),
            ("web", R.LEAD_SOURCE, "Web"),
            ("expo", R.LEAD_SOURCE, "Expo"),
        )
    }
    session.add_all([north, south, *items.values()])
    await session.flush()
    ids = {key: item.id for key, item in items.items()}

    def user(telegram_id: int, name: str, role: Role, department: Department | None) -> User:
        return User(
            telegram_id=telegram_id,
            full_name=name,
            role=role,
            department_id=department.id if department else None,
            locale="en",
            timezone="Europe/Moscow",
        )

    admin = user(1, "Admin", Role.ADMIN, None)
    head1 = user(2, "Head North", Role.HEAD, north)
    head2 = user(3, "Head South", Role.HEAD, south)
    m1 = user(11, "Anna", Role.MANAGER, north)
    m2 = user(12, "Boris", Role.MANAGER, north)
    m3 = user(13, "Vera", Role.MANAGER, south)
    m4 = user(14, "Gleb", Role.MANAGER, south)
    session.add_all([admin, head1, head2, m1, m2, m3, m4])
    await session.flush()

    def client(name, owner, industry, region, source, created, last_contact) -> Client:
        return Client(
            name=name,
            name_key=normalize_name(name),
            search_text=search_key(name),
            kind=ClientKind.COMPANY,
            owner_id=owner.id,
            industry_id=ids[industry] if industry else None,
            region_id=ids[region] if region else None,
            lead_source_id=ids[source] if source else None,
            created_at=created,
            last_contact_at=last_contact,
        )

    # client: owner, industry, region, lead source, created, last contact
    c1 = client("C1", m1, "retail", "moscow", "web", msk(9, 10), msk(11, 28))
    c2 = client("C2", m1, "farming", "moscow", "expo", msk(11, 5, 9), msk(11, 30, 23, 30))
    c3 = client("C3", m2, "retail", "kazan", "web", msk(10, 15), msk(11, 10))
    c4 = client("C4", m3, "farming", "kazan", "expo", msk(11, 20), None)
    c5 = client("C5", m3, "retail", "moscow", None, msk(8, 1), msk(11, 1, 0, 30))
    c6 = client("C6", m4, None, "kazan", None, msk(1, 1), None)
    c7 = client("C7", m2, "farming", "moscow", "web", msk(6, 1), msk(9, 1))
    session.add_all([c1, c2, c3, c4, c5, c6, c7])
    await session.flush()

    K = InteractionKind

    def contact(author, on, kind, when) -> Interaction:
        return Interaction(
            client_id=on.id, author_id=author.id, kind=kind, occurred_at=when, summary="x"
        )

    session.add_all(
        [
            contact(m1, c1, K.CALL, msk(11, 2, 10)),  # i1
            contact(m1, c1, K.VISIT, msk(11, 2, 15)),  # i2
            contact(m1, c2, K.MEETING, msk(11, 5, 11)),  # i3
            contact(m1, c2, K.CALL, msk(11, 30, 23, 30)),  # i4: 20:30 UTC, still November
            contact(m2, c3, K.EMAIL, msk(11, 10, 9)),  # i5
            contact(m2, c1, K.VISIT, msk(11, 10, 14)),  # i6: Boris at Anna's client
            contact(m3, c4, K.VISIT, msk(11, 21, 10)),  # i7
            contact(m3, c5, K.MESSAGE, msk(11, 1, 0, 30)),  # i8: 31 October 21:30 UTC
            contact(m1, c1, K.CALL, msk(12, 1, 0, 30)),  # i9: 30 November UTC, December here
            contact(m1, c1, K.CALL, msk(10, 31, 23, 30)),  # i10: October
            contact(m2, c3, K.MEETING, msk(10, 20)),  # i11: October
            contact(m3, c5, K.CALL, msk(10, 5)),  # i12: October
        ]
    )

    def deal(owner, on, line, amount, currency, stage, created, closed=None) -> Deal:
        return Deal(
            client_id=on.id,
            owner_id=owner.id,
            title="x",
            product_line_id=ids[line] if line else None,
            amount_minor=amount,
            currency=currency,
            stage=stage,
            created_at=created,
            closed_at=closed,
        )

    S = DealStage
    session.add_all(
        [
            # d1: won in November after 33 days
            deal(m1, c1, "p1", 10_000_000, RUB, S.WON, msk(10, 1), msk(11, 3)),
            # d2: won on 16 November at 01:00 (15 November UTC) after 10 days
            deal(m1, c2, "p2", 5_000_000, RUB, S.WON, msk(11, 6, 1), msk(11, 16, 1)),
            # d3: won in dollars after 10 days
            deal(m1, c1, "p1", 100_000, "USD", S.WON, msk(11, 1), msk(11, 11)),
            # d4: lost in November
            deal(m2, c3, "p1", 3_000_000, RUB, S.LOST, msk(10, 10), msk(11, 12)),
            # d5, d6: open, opened in November
            deal(m2, c3, "p2", 2_000_000, RUB, S.NEW, msk(11, 12)),
            deal(m3, c4, "p1", 8_000_000, RUB, S.PROPOSAL, msk(11, 22)),
            # d7: won in October after 18 days; d8: lost in October
            deal(m3, c5, "p2", 4_000_000, RUB, S.WON, msk(10, 2), msk(10, 20)),
            deal(m3, c5, "p1", 1_000_000, RUB, S.LOST, msk(9, 1), msk(10, 25)),
            # d9: open since September
            deal(m1, c1, "p1", 6_000_000, RUB, S.NEGOTIATION, msk(9, 15)),
            # d10: won at 23:30 on the month's last day, after 5 days
            deal(m1, c2, "p2", 500_000, RUB, S.WON, msk(11, 25, 23, 30), msk(11, 30, 23, 30)),
            # d11: won at 00:30 on 1 December (30 November UTC): December's
            deal(m2, c3, "p2", 700_000, RUB, S.WON, msk(11, 20), msk(12, 1, 0, 30)),
            # d12: open, in euros
            deal(m3, c4, "p2", 200_000, "EUR", S.NEW, msk(11, 23)),
            # d13: won after 22 days, no product line
            deal(m3, c4, None, 300_000, RUB, S.WON, msk(11, 2), msk(11, 24)),
        ]
    )

    def complaint(on, line, created, due, status, resolved=None) -> Complaint:
        return Complaint(
            client_id=on.id,
            product_line_id=ids[line],
            severity=ComplaintSeverity.MEDIUM,
            description="x",
            status=status,
            reporter_id=on.owner_id,
            created_at=created,
            sla_due_at=due,
            resolved_at=resolved,
        )

    CS = ComplaintStatus
    session.add_all(
        [
            # k1: resolved on time in 6 h
            complaint(c1, "p1", msk(11, 3, 10), msk(11, 4, 10), CS.RESOLVED, msk(11, 3, 16)),
            # k2: resolved late after 72 h
            complaint(c3, "p2", msk(11, 8, 10), msk(11, 9, 10), CS.RESOLVED, msk(11, 11, 10)),
            # k3: open, past due since 26 November
            complaint(c4, "p1", msk(11, 25, 10), msk(11, 26, 10), CS.OPEN),
            # k4: October, resolved on time in 24 h
            complaint(c5, "p2", msk(10, 20, 10), msk(10, 27, 10), CS.RESOLVED, msk(10, 21, 10)),
        ]
    )

    chats = {}
    for telegram_id, on in ((901, c1), (903, c3), (904, c4)):
        chat = ClientChat(
            telegram_id=telegram_id, client_id=on.id, name="x", locale="en", consented_at=msk(9, 1)
        )
        session.add(chat)
        await session.flush()
        chats[on.id] = chat.id
    number = iter(range(1, 100))

    def survey(on, kind, sent, status, score=None, line=None, alerted=None, closed=None):
        return Survey(
            touchpoint=f"test:{next(number)}",
            kind=kind,
            trigger=SurveyTrigger.PERIODIC,
            status=status,
            client_id=on.id,
            chat_id=chats[on.id],
            owner_id=on.owner_id,
            product_line_id=ids[line] if line else None,
            scheduled_at=sent,
            sent_at=sent,
            score=score,
            answered_at=sent if status is SurveyStatus.ANSWERED else None,
            alerted_at=alerted,
            loop_closed_at=closed,
        )

    NPS, CSAT, A = SurveyKind.NPS, SurveyKind.CSAT, SurveyStatus.ANSWERED
    session.add_all(
        [
            survey(c1, NPS, msk(11, 2), A, 10, "p1"),  # s1: promoter
            survey(c1, CSAT, msk(11, 9), A, 4, "p1"),  # s2
            # s3: detractor, loop closed 21 h after the alert
            survey(c3, NPS, msk(11, 10), A, 3, "p2", msk(11, 10, 13), msk(11, 11, 10)),
            survey(c4, NPS, msk(11, 23), SurveyStatus.SENT),  # s4: no answer
            survey(c1, NPS, msk(10, 15), A, 8),  # s5: October, passive
            survey(c3, CSAT, msk(11, 30, 1), A, 5),  # s6: Monday 30th 01:00 (Sunday UTC)
        ]
    )

    def task(owner, on, due, status) -> Task:
        client_id = on.id if on else None
        return Task(owner_id=owner.id, client_id=client_id, text="x", due_at=due, status=status)

    session.add_all(
        [
            task(m1, c1, msk(11, 29, 10), TaskStatus.OPEN),  # t1: overdue
            task(m1, None, msk(11, 30), TaskStatus.DONE),  # t2
            task(m3, c5, msk(11, 15), TaskStatus.OPEN),  # t3: overdue
            task(m2, c3, msk(12, 5), TaskStatus.OPEN),  # t4: not due yet
        ]
    )

    def plan(month, subject, subject_id, revenue, won=0, contacts=0) -> Plan:
        return Plan(
            month=month,
            subject=subject,
            subject_id=subject_id,
            revenue_minor=revenue,
            deals_won=won,
            interactions=contacts,
        )

    U, D = PlanSubject.USER, PlanSubject.DEPARTMENT
    session.add_all(
        [
            plan("2026-11", U, m1.id, 20_000_000, 4, 10),
            plan("2026-11", U, m2.id, 5_000_000),
            plan("2026-11", D, north.id, 30_000_000, 6, 20),
            plan("2026-11", D, south.id, 10_000_000),
            plan("2026-10", U, m1.id, 10_000_000, 2, 5),
        ]
    )
    await session.commit()
    return Data(admin, head1, head2, m1, m2, m3, m4, north.id, south.id, **ids)


async def board(session: AsyncSession, actor: User, slice: Slice, period: Period = NOVEMBER):
    return await dashboard(
        session, actor, slice, period, stale_days=STALE_DAYS, currency=RUB, now=NOW
    )


# Periods


def test_periods_in_the_viewers_zone():
    # Moscow is UTC+3: November is [31 Oct 21:00 UTC, 30 Nov 21:00 UTC).
    assert NOVEMBER.start == datetime(2026, 10, 31, 21, tzinfo=UTC)
    assert NOVEMBER.end == datetime(2026, 11, 30, 21, tzinfo=UTC)
    assert (OCTOBER.kind, OCTOBER.first, OCTOBER.last) == (
        PeriodKind.MONTH,
        date(2026, 10, 1),
        date(2026, 10, 31),
    )
    assert NOVEMBER.month == "2026-11" and NOVEMBER.days == 30

    week = Period.of(PeriodKind.WEEK, date(2026, 11, 4), MSK)  # a Wednesday
    assert (week.first, week.last) == (date(2026, 11, 2), date(2026, 11, 8))
    assert (week.previous().first, week.previous().last) == (date(2026, 10, 26), date(2026, 11, 1))
    assert week.month is None

    day = Period.of(PeriodKind.DAY, date(2026, 3, 1), MSK).previous()
    assert (day.first, day.last) == (date(2026, 2, 28), date(2026, 2, 28))

    quarter = Period.of(PeriodKind.QUARTER, date(2026, 2, 10), MSK)
    assert (quarter.first, quarter.last) == (date(2026, 1, 1), date(2026, 3, 31))
    before = quarter.previous()
    assert (before.first, before.last) == (date(2025, 10, 1), date(2025, 12, 31))

    january = Period.of(PeriodKind.MONTH, date(2026, 1, 31), MSK).previous()
    assert (january.first, january.last) == (date(2025, 12, 1), date(2025, 12, 31))

    # A custom range of 10 days: the 10 days before it.
    custom = Period.custom(date(2026, 11, 10), date(2026, 11, 19), MSK)
    assert (custom.previous().first, custom.previous().last) == (
        date(2026, 10, 31),
        date(2026, 11, 9),
    )
    assert custom.previous().kind is PeriodKind.CUSTOM


def test_custom_ranges_are_checked():
    with pytest.raises(InvalidInput):
        Period.custom(date(2026, 11, 10), date(2026, 11, 9), MSK)
    with pytest.raises(InvalidInput):
        Period.custom(date(2025, 1, 1), date(2026, 1, 2), MSK)  # 367 days: 366 is the most
    assert Period.custom(date(2025, 1, 2), date(2026, 1, 2), MSK).days == 366
    with pytest.raises(InvalidInput):
        Period.of(PeriodKind.CUSTOM, date(2026, 11, 10), MSK)


def test_changes():
    assert change(5, None) == Change(None, None)
    assert change(3, 0) == Change(3, None)  # no percent of nothing
    assert change(1, 4) == Change(-3, -75.0)
    assert change(-10.0, -20.0) == Change(10.0, 50.0)


# The dashboard


async def test_a_managers_own_dashboard(session: AsyncSession, data: Data):
    result = await board(session, data.m1, Slice(owner_id=data.m1.id))
    assert result.current == Kpis(
        period=NOVEMBER,
        # i1 call, i2 visit, i3 meeting, i4 call (23:30 on the 30th); new client C2.
        activity=Activity(kinds(call=2, visit=1, meeting=1), new_clients=1),
        sales=Sales(
            opened=3,  # d2, d3, d10
            won=4,  # d1, d2, d3 (dollars), d10
            lost=0,
            revenue_minor=15_500_000,  # 10 000 000 + 5 000 000 + 500 000
            other_revenue={"USD": 100_000},
            win_rate=1.0,
            average_deal_minor=5_166_667,  # 15 500 000 / 3 roubles deals
            average_cycle_days=14.5,  # (33 + 10 + 10 + 5) / 4
            pipeline=OpenPipeline(1, 6_000_000, 4_500_000, {}),  # d9 at negotiation, 75%
            # The plan counts won deals in roubles only: 3 of 4 (75%); 15.5 of 20 M is 77%;
            # contacts 4 of 10.
            plan=PlanFact("2026-11", Figures(20_000_000, 4, 10), Figures(15_500_000, 3, 4), 0),
        ),
        service=ComplaintFigures(1, 1, 6.0, 0, 0.0, 0),  # k1 on C1
        satisfaction=SurveyFigures(2, 2, 1.0, 100.0, 1, 4.0, 1.0, 1, 0, 0),  # s1, s2
        health=Health(stale_clients=0, overdue_tasks=1),  # C1, C2 in touch; t1 overdue
    )
    assert result.current.sales.plan.revenue_percent == 77
    assert result.previous == Kpis(
        period=OCTOBER,
        activity=Activity(kinds(call=1), new_clients=0),  # i10 at 23:30 on 31 October
        sales=Sales(
            opened=1,  # d1
            won=0,
            lost=0,
            revenue_minor=0,
            other_revenue={},
            win_rate=None,
            average_deal_minor=None,
            average_cycle_days=None,
            pipeline=None,  # a snapshot: not for the period before
            plan=PlanFact("2026-10", Figures(10_000_000, 2, 5), Figures(0, 0, 1), 0),
        ),
        service=ComplaintFigures(0, 0, None, 0, None, 0),
        satisfaction=SurveyFigures(1, 1, 1.0, 0.0, 1, None, None, 0, 0, 0),  # s5: a passive
        health=None,
    )
    assert result.change("sales.revenue_minor") == Change(15_500_000, None)
    assert result.change("activity.contacts") == Change(3, 300.0)  # 4 against 1
    assert result.change("activity.by_kind.call") == Change(1, 100.0)
    assert result.change("sales.pipeline.amount_minor") == Change(None, None)
    assert result.change("sales.plan.revenue_percent") == Change(77, None)  # 77% against 0%


async def test_a_heads_department_dashboard(session: AsyncSession, data: Data):
    result = await board(session, data.head1, Slice(department_id=data.north))
    # North is Anna and Boris (and their head).
    assert result.current == Kpis(
        period=NOVEMBER,
        # Anna's four, Boris's e-mail (i5) and visit (i6); new client C2.
        activity=Activity(kinds(call=2, visit=2, meeting=1, email=1), new_clients=1),
        sales=Sales(
            opened=5,  # d2, d3, d10 and Boris's d5, d11
            won=4,
            lost=1,  # d4
            revenue_minor=15_500_000,
            other_revenue={"USD": 100_000},
            win_rate=0.8,  # 4 / 5
            average_deal_minor=5_166_667,
            average_cycle_days=14.5,
            # d5 new (10% of 2 M) and d9 negotiation (75% of 6 M)
            pipeline=OpenPipeline(2, 8_000_000, 4_700_000, {}),
            # 15.5 of 30 M is 51%, 3 of 6 deals, 6 of 20 contacts
            plan=PlanFact("2026-11", Figures(30_000_000, 6, 20), Figures(15_500_000, 3, 6), 0),
        ),
        # k1 (6 h, on time), k2 (72 h, late): average 39 h, one breach of two.
        service=ComplaintFigures(2, 2, 39.0, 1, 0.5, 0),
        # s1 (10), s2 (4), s3 (3, alert, loop closed in 21 h), s6 (5)
        satisfaction=SurveyFigures(4, 4, 1.0, 0.0, 2, 4.5, 1.0, 2, 1, 1),
        health=Health(stale_clients=1, overdue_tasks=1),  # C7 (since September); t1
    )
    assert result.current.sales.plan.revenue_percent == 51
    # October: i10 call, i11 meeting; C3 new; d1 and d4 opened; no plan for North.
    assert result.previous.activity == Activity(kinds(call=1, meeting=1), new_clients=1)
    assert (result.previous.sales.opened, result.previous.sales.won) == (2, 0)
    assert result.previous.sales.plan == PlanFact("2026-10", None, Figures(0, 0, 2), 0)
    assert result.change("sales.opened") == Change(3, 150.0)  # 5 against 2


async def test_the_company_dashboard(session: AsyncSession, data: Data):
    result = await board(session, data.admin, Slice())
    assert result.current == Kpis(
        period=NOVEMBER,
        # i1–i8: calls i1, i4; visits i2, i6, i7; meeting i3; e-mail i5; message i8 (00:30
        # on 1 November, still October in UTC). i9 (00:30 on 1 December) is not counted.
        activity=Activity(
            kinds(call=2, visit=3, meeting=1, email=1, message=1), new_clients=2
        ),  # C2, C4
        sales=Sales(
            opened=8,  # d2, d3, d5, d6, d10, d11, d12, d13
            won=5,  # d1, d2, d3, d10, d13 (d11 won in December)
            lost=1,
            revenue_minor=15_800_000,  # 10 M + 5 M + 0.5 M + 0.3 M
            other_revenue={"USD": 100_000},
            win_rate=5 / 6,
            average_deal_minor=3_950_000,  # 15.8 M / 4
            average_cycle_days=16.0,  # (33 + 10 + 10 + 5 + 22) / 5
            # d5 10% of 2 M, d6 50% of 8 M, d9 75% of 6 M; d12 in euros counts, apart
            pipeline=OpenPipeline(4, 16_000_000, 8_700_000, {"EUR": 200_000}),
            # the departments' plans: 40 M, 6 deals, 20 contacts; 15.8 M is 39%
            plan=PlanFact("2026-11", Figures(40_000_000, 6, 20), Figures(15_800_000, 4, 8), 0),
        ),
        # opened k1, k2, k3; resolved k1 (6 h), k2 (72 h, late); k3 open and overdue:
        # breaches k2 + k3 of 3 judged.
        service=ComplaintFigures(3, 2, 39.0, 2, 2 / 3, 1),
        satisfaction=SurveyFigures(5, 4, 0.8, 0.0, 2, 4.5, 1.0, 2, 1, 1),  # and s4 unanswered
        health=Health(stale_clients=3, overdue_tasks=2),  # C5, C6, C7; t1, t3
    )
    assert result.previous == Kpis(
        period=OCTOBER,
        activity=Activity(kinds(call=2, meeting=1), new_clients=1),  # i10, i11, i12; C3
        sales=Sales(
            opened=3,  # d1, d4, d7
            won=1,  # d7
            lost=1,  # d8
            revenue_minor=4_000_000,
            other_revenue={},
            win_rate=0.5,
            average_deal_minor=4_000_000,
            average_cycle_days=18.0,
            pipeline=None,
            plan=PlanFact("2026-10", None, Figures(4_000_000, 1, 3), 0),  # no department plans
        ),
        service=ComplaintFigures(1, 1, 24.0, 0, 0.0, 0),  # k4
        satisfaction=SurveyFigures(1, 1, 1.0, 0.0, 1, None, None, 0, 0, 0),
        health=None,
    )
    assert result.change("sales.revenue_minor") == Change(11_800_000, 295.0)
    assert result.change("activity.contacts") == Change(5, 166.7)  # 8 against 3
    assert result.change("activity.visits") == Change(3, None)  # none in October
    assert result.change("satisfaction.nps") == Change(0.0, None)
    assert result.change("health.overdue_tasks") == Change(None, None)
    assert result.change("sales.win_rate").absolute == pytest.approx(5 / 6 - 0.5)


async def test_a_product_line_leaves_contacts_clients_and_tasks_out(
    session: AsyncSession, data: Data
):
    # Pumps: d1, d3, d4, d6, d8, d9; complaints k1, k3; surveys s1, s2.
    result = await board(session, data.admin, Slice(product_line_id=data.p1))
    assert result.current == Kpis(
        period=NOVEMBER,
        activity=None,  # not applicable: contacts and clients have no product line
        sales=Sales(
            opened=2,  # d3, d6
            won=2,  # d1, d3
            lost=1,  # d4
            revenue_minor=10_000_000,
            other_revenue={"USD": 100_000},
            win_rate=2 / 3,
            average_deal_minor=10_000_000,
            average_cycle_days=21.5,  # (33 + 10) / 2
            pipeline=OpenPipeline(2, 14_000_000, 8_500_000, {}),  # d6 (50%), d9 (75%)
            plan=None,  # plans are not per product line
        ),
        service=ComplaintFigures(2, 1, 6.0, 1, 0.5, 1),  # k1 on time; k3 open, overdue
        satisfaction=SurveyFigures(2, 2, 1.0, 100.0, 1, 4.0, 1.0, 1, 0, 0),
        health=None,
    )
    # October: d1, d4 opened; d8 lost.
    previous = result.previous.sales
    assert (previous.opened, previous.won, previous.lost, previous.win_rate) == (2, 0, 1, 0.0)
    assert result.change("activity.contacts") == Change(None, None)


async def test_a_lead_source_shows_which_channel_brings_buyers(session: AsyncSession, data: Data):
    # Expo brought C2 (Anna) and C4 (Vera), both in November.
    result = await board(session, data.admin, Slice(lead_source_id=data.expo))
    assert result.current == Kpis(
        period=NOVEMBER,
        activity=Activity(kinds(call=1, visit=1, meeting=1), new_clients=2),  # i3, i4, i7
        sales=Sales(
            opened=5,  # d2, d10 (C2); d6, d12, d13 (C4)
            won=3,  # d2, d10, d13
            lost=0,
            revenue_minor=5_800_000,
            other_revenue={},
            win_rate=1.0,
            average_deal_minor=1_933_333,  # 5.8 M / 3
            average_cycle_days=12.3,  # (10 + 5 + 22) / 3
            pipeline=OpenPipeline(2, 8_000_000, 4_000_000, {"EUR": 200_000}),  # d6; d12
            plan=None,
        ),
        service=ComplaintFigures(1, 0, None, 1, 1.0, 1),  # k3
        satisfaction=SurveyFigures(1, 0, 0.0, None, 0, None, None, 0, 0, 0),  # s4
        health=Health(0, 0),
    )


async def test_kpis_of_one_day(session: AsyncSession, data: Data):
    # The digest's "yesterday" for Anna on 1 December: 30 November, i4 and d10.
    yesterday = Period.of(PeriodKind.DAY, date(2026, 11, 30), MSK)
    result = await kpis(
        session,
        data.m1,
        Slice(owner_id=data.m1.id),
        yesterday,
        stale_days=STALE_DAYS,
        currency=RUB,
        now=NOW,
    )
    assert result.activity == Activity(kinds(call=1), new_clients=0)
    assert (result.sales.won, result.sales.revenue_minor, result.sales.plan) == (1, 500_000, None)


# Breakdowns


async def test_breakdown_by_manager_is_the_leaderboard(session: AsyncSession, data: Data):
    rows = await breakdown(session, data.admin, Slice(), NOVEMBER, Dimension.MANAGER, currency=RUB)
    assert rows == [
        # revenue, won, opened, contacts; plan and per cent of it
        BreakdownRow(data.m1.id, "Anna", 15_500_000, 4, 3, 4, 20_000_000, 77),
        BreakdownRow(data.m3.id, "Vera", 300_000, 1, 3, 2),  # d13; d6, d12, d13; i7, i8
        BreakdownRow(data.m2.id, "Boris", 0, 0, 2, 2, 5_000_000, 0),  # d5, d11; i5, i6
        BreakdownRow(data.m4.id, "Gleb", 0, 0, 0, 0),  # listed though he did nothing
    ]
    head, other = top(rows, 2)
    assert [row.label for row in head] == ["Anna", "Vera"]
    assert other == BreakdownRow(None, "", 0, 0, 2, 2)  # Boris and Gleb

    # A head sees their own managers; a product line has no contacts and no plans.
    north = Slice(department_id=data.north)
    rows = await breakdown(session, data.head1, north, NOVEMBER, Dimension.MANAGER, currency=RUB)
    assert [(row.label, row.plan_percent) for row in rows] == [("Anna", 77), ("Boris", 0)]
    valves = Slice(product_line_id=data.p2)
    rows = await breakdown(session, data.admin, valves, NOVEMBER, Dimension.MANAGER, currency=RUB)
    assert rows == [
        BreakdownRow(data.m1.id, "Anna", 5_500_000, 2, 2, None),  # d2, d10
        BreakdownRow(data.m2.id, "Boris", 0, 0, 2, None),  # d5, d11
        BreakdownRow(data.m3.id, "Vera", 0, 0, 1, None),  # d12
        BreakdownRow(data.m4.id, "Gleb", 0, 0, 0, None),
    ]


async def test_breakdown_by_department(session: AsyncSession, data: Data):
    rows = await breakdown(
        session, data.admin, Slice(), NOVEMBER, Dimension.DEPARTMENT, currency=RUB
    )
    assert rows == [
        BreakdownRow(data.north, "North", 15_500_000, 4, 5, 6, 30_000_000, 51),
        BreakdownRow(data.south, "South", 300_000, 1, 3, 2, 10_000_000, 3),  # 0.3 of 10 M
    ]
    # Out of a month, no plans.
    week = Period.of(PeriodKind.WEEK, date(2026, 11, 30), MSK)  # 30 Nov – 6 Dec
    rows = await breakdown(session, data.admin, Slice(), week, Dimension.DEPARTMENT, currency=RUB)
    # d10 (Anna, 23:30 on the 30th) and d11 (Boris, 1 December); i4 and i9.
    assert rows == [BreakdownRow(data.north, "North", 1_200_000, 2, 0, 2)]


async def test_breakdown_by_product_line(session: AsyncSession, data: Data):
    rows = await breakdown(
        session, data.admin, Slice(), NOVEMBER, Dimension.PRODUCT_LINE, currency=RUB
    )
    assert rows == [
        BreakdownRow(data.p1, "Pumps", 10_000_000, 2, 2, None),  # d1, d3 won; d3, d6 opened
        BreakdownRow(data.p2, "Valves", 5_500_000, 2, 5, None),  # d2, d10; d2 d5 d10 d11 d12
        BreakdownRow(None, "", 300_000, 1, 1, None),  # d13 has no product line
    ]


async def test_breakdown_by_client_attributes(session: AsyncSession, data: Data):
    async def by(dimension: Dimension) -> list[BreakdownRow]:
        return await breakdown(session, data.admin, Slice(), NOVEMBER, dimension, currency=RUB)

    # Retail: C1, C3, C5. Farming: C2, C4, C7.
    # Retail won d1, d3; opened d3, d5, d11; contacts i1, i2, i5, i6, i8.
    # Farming won d2, d10, d13; opened d2, d6, d10, d12, d13; contacts i3, i4, i7.
    assert await by(Dimension.INDUSTRY) == [
        BreakdownRow(data.retail, "Retail", 10_000_000, 2, 3, 5),
        BreakdownRow(data.farming, "Farming", 5_800_000, 3, 5, 3),
    ]
    # Moscow: C1, C2, C5, C7. Kazan: C3, C4.
    assert await by(Dimension.REGION) == [
        BreakdownRow(data.moscow, "Moscow", 15_500_000, 4, 3, 6),  # i1 i2 i3 i4 i6 i8
        BreakdownRow(data.kazan, "Kazan", 300_000, 1, 5, 2),  # d13; d5 d6 d11 d12 d13; i5 i7
    ]
    # Web: C1, C3, C7. Expo: C2, C4. None: C5, C6.
    assert await by(Dimension.LEAD_SOURCE) == [
        BreakdownRow(data.web, "Web", 10_000_000, 2, 3, 4),
        BreakdownRow(data.expo, "Expo", 5_800_000, 3, 5, 3),
        BreakdownRow(None, "", 0, 0, 0, 1),  # i8 with C5
    ]


# Series for the charts


async def test_revenue_by_local_day(session: AsyncSession, data: Data):
    days = await revenue_by_day(
        session, data.m1, Slice(owner_id=data.m1.id), NOVEMBER, currency=RUB
    )
    assert list(days) == NOVEMBER.dates()
    # d1 on the 3rd; d2 at 01:00 on the 16th (15th in UTC); d10 at 23:30 on the 30th.
    assert {day: amount for day, amount in days.items() if amount} == {
        date(2026, 11, 3): 10_000_000,
        date(2026, 11, 16): 5_000_000,
        date(2026, 11, 30): 500_000,
    }


async def test_activity_by_local_day(session: AsyncSession, data: Data):
    days = await activity_by_day(session, data.admin, Slice(), NOVEMBER)
    assert list(days) == NOVEMBER.dates()
    assert busy_days(days) == {
        date(2026, 11, 1): {"message": 1},  # i8 at 00:30 (31 October UTC)
        date(2026, 11, 2): {"call": 1, "visit": 1},  # i1, i2
        date(2026, 11, 5): {"meeting": 1},  # i3
        date(2026, 11, 10): {"email": 1, "visit": 1},  # i5, i6
        date(2026, 11, 21): {"visit": 1},  # i7
        date(2026, 11, 30): {"call": 1},  # i4 at 23:30
    }
    pumps = Slice(product_line_id=data.p1)
    assert await activity_by_day(session, data.admin, pumps, NOVEMBER) is None


async def test_satisfaction_by_local_week(session: AsyncSession, data: Data):
    # 1 November 2026 is a Sunday: its week begins on 26 October; the 30th is a Monday.
    weeks = await satisfaction_by_week(session, data.admin, Slice(), NOVEMBER)
    assert weeks == [
        WeekScores(date(2026, 10, 26), None, 0, None, 0),
        WeekScores(date(2026, 11, 2), 100.0, 1, None, 0),  # s1
        WeekScores(date(2026, 11, 9), -100.0, 1, 4.0, 1),  # s3 a detractor; s2
        WeekScores(date(2026, 11, 16), None, 0, None, 0),
        WeekScores(date(2026, 11, 23), None, 0, None, 0),  # s4 unanswered
        WeekScores(date(2026, 11, 30), None, 0, 5.0, 1),  # s6 at 01:00 (Sunday 29th UTC)
    ]


async def test_local_days_across_a_dst_change_and_in_a_half_hour_zone(
    session: AsyncSession, data: Data
):
    # Berlin moves from UTC+1 to UTC+2 at 01:00 UTC on 29 March 2026.
    berlin = ZoneInfo("Europe/Berlin")
    client = await session.scalar(select(Client).where(Client.name == "C1"))

    def call(*moment: int) -> Interaction:
        when = datetime(2026, *moment, tzinfo=UTC)
        kind = InteractionKind.CALL
        return Interaction(
            client_id=client.id, author_id=data.m1.id, kind=kind, occurred_at=when, summary="x"
        )

    session.add_all(
        [
            call(3, 28, 23, 30),  # 00:30 on 29 March (UTC+1)
            call(3, 30, 22, 30),  # 00:30 on 31 March (UTC+2): 23:30 on the 30th at UTC+1
            call(3, 31, 21, 30),  # 23:30 on 31 March: the month's last minutes
            call(3, 31, 22, 30),  # 00:30 on 1 April: not March
            call(5, 10, 18, 45),  # 00:15 on 11 May in India (UTC+5:30)
        ]
    )
    await session.commit()
    anna = Slice(owner_id=data.m1.id)
    march = Period.of(PeriodKind.MONTH, date(2026, 3, 1), berlin)
    assert busy_days(await activity_by_day(session, data.m1, anna, march)) == {
        date(2026, 3, 29): {"call": 1},
        date(2026, 3, 31): {"call": 2},
    }
    may = Period.of(PeriodKind.MONTH, date(2026, 5, 1), ZoneInfo("Asia/Kolkata"))
    assert busy_days(await activity_by_day(session, data.m1, anna, may)) == {
        date(2026, 5, 11): {"call": 1}
    }


# Who may see what


async def test_a_manager_sees_only_their_own(session: AsyncSession, data: Data):
    for slice in (
        Slice(owner_id=data.m2.id),
        Slice(),
        Slice(department_id=data.north),
        Slice(owner_id=data.m1.id, department_id=data.south),
    ):
        with pytest.raises(NotFound):
            await board(session, data.m1, slice)
    with pytest.raises(NotFound):
        await breakdown(session, data.m1, Slice(), NOVEMBER, Dimension.MANAGER, currency=RUB)
    with pytest.raises(NotFound):
        await revenue_by_day(session, data.m1, Slice(owner_id=data.m3.id), NOVEMBER, currency=RUB)
    # Their own, narrowed by anything else, is fine.
    mine = await board(session, data.m1, Slice(owner_id=data.m1.id, region_id=data.moscow))
    assert mine.current.sales.revenue_minor == 15_500_000


async def test_a_head_sees_their_department_and_its_members(session: AsyncSession, data: Data):
    for slice in (Slice(department_id=data.south), Slice(owner_id=data.m3.id), Slice()):
        with pytest.raises(NotFound):
            await board(session, data.head1, slice)
    with pytest.raises(NotFound):
        await satisfaction_by_week(session, data.head1, Slice(department_id=data.south), NOVEMBER)
    boris = await board(session, data.head1, Slice(owner_id=data.m2.id))
    assert boris.current.sales.opened == 2
    assert boris.current.sales.plan.plan == Figures(5_000_000, 0, 0)


async def test_unknown_or_foreign_ids_are_not_found(session: AsyncSession, data: Data):
    for slice in (
        Slice(department_id=9999),
        Slice(owner_id=9999),
        Slice(product_line_id=data.retail),  # an industry passed as a product line
        Slice(region_id=9999),
        Slice(owner_id=data.m3.id, department_id=data.north),  # Vera is in South
    ):
        with pytest.raises(NotFound):
            await board(session, data.admin, slice)
    data.m1.is_active = False
    with pytest.raises(NotFound):
        await board(session, data.m1, Slice(owner_id=data.m1.id))


def test_period_end_is_exclusive_in_utc():
    # Sanity check of the boundaries used above: 23:30 on 30 November is inside November,
    # 00:30 on 1 December is not, though both are 30 November in UTC.
    assert NOVEMBER.start <= msk(11, 30, 23, 30) < NOVEMBER.end
    assert not msk(12, 1, 0, 30) < NOVEMBER.end
    assert msk(12, 1, 0, 30).astimezone(UTC).date() == date(2026, 11, 30)
    assert NOVEMBER.end - NOVEMBER.start == timedelta(days=30)
