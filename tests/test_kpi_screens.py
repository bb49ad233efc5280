"""📊 KPI in the bot: a manager sees their own figures against the period before and one chart;
a head their team's leaderboard, each manager and the team by product line, industry, region
and lead source; an admin the company and each department. The numbers are checked against a
small data set worked out by hand; the charts are real PNG pictures 1080 px wide; a chart with
nothing to draw is one line of text; forged buttons for someone else's figures show nothing.

Time: Wednesday 18 November 2026, 12:00 in Moscow (everyone's zone). Times below are Moscow's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot import render
from bot.keyboards.callbacks import KpiCb, KpiView
from bot.services.parsing import normalize_name, search_key
from db.models import (
    Client,
    ClientKind,
    Deal,
    DealStage,
    Department,
    Interaction,
    InteractionKind,
    Plan,
    PlanSubject,
    ReferenceItem,
    ReferenceKind,
)
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, FakeUser, Reply, SentMessage
from tests.test_charts import png_size
from tests.test_pipeline import leaked_nothing, sales_and_service, user_id

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)  # Wednesday 18 November 2026, 12:00 in Moscow
WON, LOST = DealStage.WON, DealStage.LOST
NO_CHART = "📊 Nothing to draw for this period."


def msk(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=MSK).astimezone(UTC)


# The data set goes straight into the database; everything else goes through the bot.


async def add_item(db: Db, kind: ReferenceKind, name: str) -> int:
    async with db.session_factory() as session:
        item = ReferenceItem(kind=kind, name=name)
        session.add(item)
        await session.commit()
        return item.id


async def add_client(
    db: Db,
    owner_id: int,
    name: str,
    created: datetime,
    *,
    industry: int | None = None,
    region: int | None = None,
    last_contact: datetime | None = None,
) -> int:
    async with db.session_factory() as session:
        client = Client(
            name=name,
            name_key=normalize_name(name),
            search_text=search_key(name),
            kind=ClientKind.COMPANY,
            owner_id=owner_id,
            industry_id=industry,
            region_id=region,
            created_at=created,
            last_contact_at=last_contact,
        )
        session.add(client)
        await session.commit()
        return client.id


async def add_deal(
    db: Db,
    owner_id: int,
    client_id: int,
    title: str,
    rubles: int,
    stage: DealStage,
    created: datetime,
    closed: datetime | None = None,
    *,
    line: int | None = None,
) -> int:
    async with db.session_factory() as session:
        deal = Deal(
            client_id=client_id,
            owner_id=owner_id,
            title=title,
            amount_minor=rubles * 100,
            currency="RUB",
            stage=stage,
            product_line_id=line,
            created_at=created,
            last_activity_at=closed or created,
            closed_at=closed,
        )
        session.add(deal)
        await session.commit()
        return deal.id


async def add_contact(
    db: Db, author_id: int, client_id: int, when: datetime, kind: InteractionKind
) -> None:
    async with db.session_factory() as session:
        session.add(
            Interaction(
                client_id=client_id, author_id=author_id, kind=kind, summary="x", occurred_at=when
            )
        )
        await session.commit()


async def add_plan(db: Db, subject_id: int, rubles: int) -> None:
    async with db.session_factory() as session:
        session.add(
            Plan(
                month="2026-11",
                subject=PlanSubject.USER,
                subject_id=subject_id,
                revenue_minor=rubles * 100,
            )
        )
        await session.commit()


async def department_id(db: Db, name: str) -> int:
    return await db.scalar(select(Department.id).where(Department.name == name))


@dataclass
class Team:
    admin: FakeUser
    anna: FakeUser
    boris: FakeUser
    vera: FakeUser  # Service: no figures at all
    helen: FakeUser  # head of Sales
    anna_id: int
    boris_id: int
    vera_id: int
    sales: int
    service: int
    pumps: int
    valves: int
    retail: int


async def november(fake: FakeTelegram, bot, db: Db) -> Team:
    """Anna and Boris sell in Sales (Helen is their head), Vera is in Service.

    Anna: won "Pump station" 1 000 000 ₽ (Pumps; opened 20 Oct, won 3 Nov: 14 days) and
    "Spare parts" 200 000 ₽ (no line; opened 1 Nov, won 17 Nov: 16 days); lost "Tender"
    700 000 ₽ (opened 2 Nov, lost 5 Nov); "Boiler" 400 000 ₽ is at the proposal (opened 10 Nov,
    50%). In October she won "Old order" 300 000 ₽ (Pumps, opened 1 Oct, won 20 Oct).
    Contacts: a call on 2 Nov, a visit on 10 Nov, a call on 17 Nov; a call on 15 Oct.
    New clients: Romashka (5 Nov, Retail); Lilia is from 20 Oct. Her November plan: 2 000 000 ₽.
    Boris: won "Valve set" 900 000 ₽ (Valves; opened 15 Oct, won 6 Nov), a call on 5 Nov;
    plan 1 000 000 ₽."""
    admin, anna, boris, vera, helen = await sales_and_service(fake)
    bot.clock.set(NOW)
    anna_id, boris_id, vera_id = [await user_id(db, p) for p in (anna, boris, vera)]
    pumps = await add_item(db, ReferenceKind.PRODUCT_LINE, "Pumps")
    valves = await add_item(db, ReferenceKind.PRODUCT_LINE, "Valves")
    retail = await add_item(db, ReferenceKind.INDUSTRY, "Retail")
    romashka = await add_client(db, anna_id, "Romashka", msk(11, 5), industry=retail)
    lilia = await add_client(db, anna_id, "Lilia", msk(10, 20), last_contact=msk(11, 17))
    vasilek = await add_client(db, boris_id, "Vasilek", msk(9, 1), last_contact=msk(11, 5))
    await add_deal(
        db, anna_id, romashka, "Pump station", 1_000_000, WON, msk(10, 20), msk(11, 3), line=pumps
    )
    await add_deal(db, anna_id, lilia, "Spare parts", 200_000, WON, msk(11, 1), msk(11, 17))
    await add_deal(db, anna_id, romashka, "Tender", 700_000, LOST, msk(11, 2), msk(11, 5))
    await add_deal(db, anna_id, romashka, "Boiler", 400_000, DealStage.PROPOSAL, msk(11, 10))
    await add_deal(
        db, anna_id, lilia, "Old order", 300_000, WON, msk(10, 1), msk(10, 20), line=pumps
    )
    await add_deal(
        db, boris_id, vasilek, "Valve set", 900_000, WON, msk(10, 15), msk(11, 6), line=valves
    )
    call, visit = InteractionKind.CALL, InteractionKind.VISIT
    await add_contact(db, anna_id, romashka, msk(11, 2), call)
    await add_contact(db, anna_id, romashka, msk(11, 10), visit)
    await add_contact(db, anna_id, lilia, msk(11, 17), call)
    await add_contact(db, anna_id, lilia, msk(10, 15), call)
    await add_contact(db, boris_id, vasilek, msk(11, 5), call)
    await add_plan(db, anna_id, 2_000_000)
    await add_plan(db, boris_id, 1_000_000)
    return Team(
        admin,
        anna,
        boris,
        vera,
        helen,
        anna_id,
        boris_id,
        vera_id,
        await department_id(db, "Sales"),
        await department_id(db, "Service"),
        pumps,
        valves,
        retail,
    )


# What the user sees


def plain(text: str) -> str:
    """Amounts and date ranges come with no-break and thin spaces: compared as plain ones."""
    return text.replace("\xa0", " ").replace("\u2009", " ")


def chart_of(reply: Reply) -> SentMessage:
    """The screen's chart: a photo, protected, 1080 px wide, after the text."""
    text, photo = reply.messages
    assert text.kind == "text" and photo.kind == "photo"
    width, _height = png_size(photo.file_bytes)
    assert width == 1080
    return photo


def protected(reply: Reply) -> bool:
    sends = [c for c in reply.calls if c.method in ("sendMessage", "sendPhoto")]
    return bool(sends) and all(c.params.get("protect_content") in (True, "true") for c in sends)


def forged(**values) -> str:
    return KpiCb(view=values.pop("view", KpiView.DASHBOARD), **values).pack()


PERIODS = ["Day", "Week", "Month", "Quarter"]


# The stories


async def test_a_manager_sees_her_month_against_the_one_before_with_revenue_against_plan(
    fake, bot, db
):
    team = await november(fake, bot, db)

    reply = await team.anna.tap("📊 KPI")

    # Revenue 1 000 000 + 200 000 against October's 300 000: +300%. Won 2 against 1, opened 3
    # (Spare parts, Tender, Boiler) against 2; win rate 2 of 3. Average deal 600 000, days to
    # win (14 + 16) / 2. Open: Boiler 400 000 at 50%. Contacts 3 against 1, one visit against
    # none; a new client (Romashka).
    text = plain(reply.messages[0].text)
    assert "📊 Anna" in text
    assert "November 2026 · compared with October 2026" in text
    assert "💰 Revenue won: 1.2M ₽ ▲ 300%" in text
    assert "📋 Plan: 1.2M ₽ of 2M ₽ (60%)" in text
    assert "🏆 Deals won: 2 ▲ 100% · opened: 3 ▲ 50%" in text
    assert "Lost: 1 · win rate: 67%" in text
    assert "📈 Average deal: 600K ₽ · days to win: 15" in text
    assert "🗂 Open deals: 1 · 400K ₽ · weighted 200K ₽" in text
    assert "📞 Contacts: 3 ▲ 200% · new clients: 1" in text
    assert "🚗 Visits: 1 ▲" in text
    assert "⚠️ Complaints opened: 0 ±0% · resolved: 0 · SLA breaches: 0 · open: 0" in text
    assert "🕰 No contact for 30+ days: 0 · overdue tasks: 0" in text
    assert "Boris" not in text and "Valve" not in text
    photo = chart_of(reply)
    assert photo.button_labels() == [
        "Day",
        "Week",
        "• Month",
        "Quarter",
        "◀ Previous",
        "📅 Dates",
    ]
    assert protected(reply)


async def test_a_manager_switches_the_period_and_steps_back(fake, bot, db):
    team = await november(fake, bot, db)
    await team.anna.tap("📊 KPI")

    # 16–22 November against 9–15: Spare parts won (nothing the week before); one contact each.
    week = await team.anna.press("Week")
    text = plain(week.messages[0].text)
    assert "Nov 16 – 22, 2026 · compared with Nov 9 – 15, 2026" in text
    assert "💰 Revenue won: 200K ₽ ▲\n" in text  # nothing the week before: no per cent
    assert "🏆 Deals won: 1 ▲ · opened: 0 ▼ 100%" in text
    assert "📞 Contacts: 1 ±0%" in text
    assert "📋 Plan" not in text  # plans are monthly
    chart_of(week)  # contacts by day
    assert "• Week" in week.last.button_labels()

    earlier = await team.anna.press("◀ Previous")
    text = plain(earlier.messages[0].text)
    assert "Nov 9 – 15, 2026 · compared with Nov 2 – 8, 2026" in text
    assert "Next ▶" in earlier.last.button_labels()

    await team.anna.press("Month")
    october = await team.anna.press("◀ Previous")
    text = plain(october.messages[0].text)
    assert "October 2026 · compared with September 2026" in text
    assert "💰 Revenue won: 300K ₽ ▲" in text
    assert "🗂 Open deals" in text  # the pipeline is today's
    chart_of(october)

    back = await team.anna.press("Next ▶")
    assert "November 2026 · compared with October 2026" in back.messages[0].text

    quarter = await team.anna.press("Quarter")
    text = plain(quarter.messages[0].text)
    assert "Q4 2026 · compared with Q3 2026" in text
    assert "💰 Revenue won: 1.5M ₽ ▲" in text  # October's 300K too
    chart_of(quarter)


async def test_a_chart_with_nothing_to_draw_is_one_line_of_text(fake, bot, db):
    team = await november(fake, bot, db)

    reply = await team.vera.tap("📊 KPI")

    assert len(reply.messages) == 2
    assert "💰 Revenue won: 0 ₽ ±0%" in plain(reply.messages[0].text)
    assert reply.messages[1].kind == "text" and reply.messages[1].text == NO_CHART
    assert not fake.calls_of("sendPhoto", team.vera.id)
    assert "• Month" in reply.messages[1].button_labels()  # the period picker stays


async def test_a_chart_that_fails_leaves_the_figures_and_says_so(fake, bot, db, monkeypatch):
    team = await november(fake, bot, db)

    async def broken(_item: render.Picture) -> bytes | None:
        raise render.RenderError("Traceback: the worker is out of order")

    monkeypatch.setattr(render, "render", broken)
    reply = await team.anna.tap("📊 KPI")

    assert len(reply.messages) == 2
    assert "💰 Revenue won:" in plain(reply.messages[0].text)
    assert reply.messages[1].text == (
        "📊 The chart could not be drawn this time; the figures above are complete."
    )
    assert "• Month" in reply.messages[1].button_labels()
    assert not fake.calls_of("sendPhoto", team.anna.id)


async def test_a_head_sees_the_team_then_one_manager(fake, bot, db):
    team = await november(fake, bot, db)

    reply = await team.helen.tap("📊 KPI")

    # Sales: Anna's 1 200 000 and Boris's 900 000 against Anna's 300 000 in October (+600%).
    text = plain(reply.messages[0].text)
    assert "📊 Sales" in text
    assert "💰 Revenue won: 2.1M ₽ ▲ 600%" in text
    assert "📋 Plan: 2.1M ₽ · no plan" in text  # no department plan; the managers have theirs
    assert "🏆 Deals won: 3 ▲ 200% · opened: 3 ±0%" in text  # 3 in Oct (Pump station, Old, Valve)
    assert "📞 Contacts: 4 ▲ 300%" in text
    photo = chart_of(reply)  # the leaderboard
    assert photo.button_labels() == [
        *PERIODS[:2],
        "• Month",
        "Quarter",
        "◀ Previous",
        "📅 Dates",
        "👤 Managers",
        "📦 Product lines",
        "🏭 Industries",
        "🌍 Regions",
        "📣 Lead sources",
    ]

    managers = await team.helen.press("👤 Managers")
    text = plain(managers.text)
    assert "👤 Managers · Sales" in text
    assert "revenue won · deals won · opened · contacts" in text
    assert "1. Anna: 1.2M ₽ · 2 · 3 · 3 · plan 60%" in text
    assert "2. Boris: 900K ₽ · 1 · 0 · 1 · plan 90%" in text
    assert "Vera" not in text
    assert len(managers.messages) == 1  # a list to pick from: the chart is the team's
    assert managers.last.button_labels()[-3:] == ["Anna", "Boris", "← Dashboard"]

    annas = await team.helen.press("Anna")
    text = plain(annas.messages[0].text)
    assert "📊 Anna" in text and "💰 Revenue won: 1.2M ₽ ▲ 300%" in text
    assert "📋 Plan: 1.2M ₽ of 2M ₽ (60%)" in text
    chart_of(annas)
    assert annas.last.button_labels()[-1] == "← Team"
    assert "👤 Managers" not in annas.last.button_labels()

    back = await team.helen.press("← Team")
    assert "📊 Sales" in back.messages[0].text


async def test_a_head_slices_the_team_by_product_line_and_opens_one(fake, bot, db):
    team = await november(fake, bot, db)
    await team.helen.tap("📊 KPI")

    lines = await team.helen.press("📦 Product lines")

    # Won in November: Pumps 1 000 000 (Pump station), Valves 900 000, no line 200 000 (Spare
    # parts); the three deals opened in November have no line. Contacts have no product line.
    text = plain(lines.messages[0].text)
    assert "📦 Product lines · Sales" in text
    assert "1. Pumps: 1M ₽ · 1 · 0 · —" in text
    assert "2. Valves: 900K ₽ · 1 · 0 · —" in text
    assert "3. Not set: 200K ₽ · 1 · 3 · —" in text
    chart_of(lines)
    assert lines.last.button_labels()[-3:] == ["Pumps", "Valves", "← Dashboard"]

    pumps = await team.helen.press("Pumps")
    # Pumps in Sales: 1 000 000 against October's Old order 300 000: +233.3%.
    text = plain(pumps.messages[0].text)
    assert "📊 Sales · Pumps" in text
    assert "💰 Revenue won: 1M ₽ ▲ 233.3%" in text
    assert "📞 Contacts" not in text  # not counted by product line
    chart_of(pumps)  # who sold pumps
    assert pumps.last.button_labels()[-1] == "← Back"
    again = await team.helen.press("← Back")
    assert "📦 Product lines · Sales" in again.messages[0].text

    industries = await team.helen.press("🏭 Industries")
    text = plain(industries.messages[0].text)
    assert "1. Not set: 1.1M ₽ · 2 · 1 · 2" in text  # Lilia and Vasilek: no industry
    assert "2. Retail: 1M ₽ · 1 · 2 · 2" in text  # Romashka
    retail = await team.helen.press("Retail")
    assert "📊 Sales · Retail" in retail.messages[0].text
    assert "💰 Revenue won: 1M ₽ ▲" in plain(retail.messages[0].text)


async def test_an_admin_sees_the_company_and_each_department(fake, bot, db):
    team = await november(fake, bot, db)

    reply = await team.admin.tap("📊 KPI")
    text = plain(reply.messages[0].text)
    assert "📊 Company" in text
    assert "💰 Revenue won: 2.1M ₽ ▲ 600%" in text
    chart_of(reply)  # revenue so far this month
    labels = reply.last.button_labels()
    assert "🏢 Departments" in labels and "👤 Managers" not in labels

    departments = await team.admin.press("🏢 Departments")
    text = plain(departments.messages[0].text)
    assert "🏢 Departments · Company" in text
    assert "1. Sales: 2.1M ₽ · 3 · 3 · 4" in text
    chart_of(departments)  # the departments' leaderboard
    sales = await team.admin.press("Sales")
    assert "📊 Sales" in sales.messages[0].text
    assert sales.last.button_labels()[-1] == "← Company"
    assert "👤 Managers" in sales.last.button_labels()
    boris = await team.admin.press("👤 Managers")
    assert "2. Boris" in plain(boris.text)
    await team.admin.press("Boris")
    assert "📊 Boris" in team.admin.messages[-2].text
    again = await team.admin.press("← Team")
    assert "📊 Sales" in again.messages[0].text


async def test_forged_buttons_for_other_peoples_figures_show_nothing(fake, bot, db):
    team = await november(fake, bot, db)
    await team.anna.tap("📊 KPI")
    await team.helen.tap("📊 KPI")
    sent_before = len(fake.calls_of("sendMessage")) + len(fake.calls_of("sendPhoto"))

    # A manager: someone else, her department, the company, a breakdown.
    for data in (
        forged(owner=team.boris_id),
        forged(department=team.sales),
        forged(),
        forged(view=KpiView.BREAKDOWN, dimension="dp"),
        forged(view=KpiView.BREAKDOWN, department=team.sales, dimension="pl"),
    ):
        assert leaked_nothing(await team.anna.press_forged(data)), data
    # A head: another department, its manager, the company, an item of the wrong list.
    for data in (
        forged(department=team.service),
        forged(owner=team.vera_id),
        forged(),
        forged(view=KpiView.BREAKDOWN, dimension="dp"),
        forged(department=team.sales, dimension="pl", item=team.retail),
        forged(department=team.sales, dimension="in", item=999_999),
        forged(owner=team.vera_id, department=team.sales),
    ):
        assert leaked_nothing(await team.helen.press_forged(data)), data
    assert len(fake.calls_of("sendMessage")) + len(fake.calls_of("sendPhoto")) == sent_before

    # Nonsense: an unknown period, a custom one without its days or too long, too far back.
    for data in (
        forged(period="year"),
        forged(period="custom"),
        forged(period="custom", since=9000, days=367),
        forged(ago=100_000),
    ):
        reply = await team.anna.press_forged(data)
        assert not reply.messages and "doesn't look right" in reply.callback_answer["text"]


async def test_a_head_types_a_range_of_dates_and_keeps_it_while_drilling_down(fake, bot, db):
    team = await november(fake, bot, db)
    await team.helen.tap("📊 KPI")

    asked = await team.helen.press("📅 Dates")
    assert "📅 Which dates?" in asked.text
    wrong = await team.helen.send("since Monday")
    assert "Type two dates with a dash, for example 1.11–15.11" in wrong.messages[0].text
    assert "📅 Which dates?" in wrong.last.text  # the same question again

    # 1–5 November against 27–31 October: Anna won Pump station (1M) on the 3rd; Anna's call
    # on the 2nd and Boris's on the 5th. Nothing in the five days before.
    reply = await team.helen.send("1.11–5.11")
    text = plain(reply.messages[0].text)
    assert "Nov 1 – 5, 2026 · compared with Oct 27 – 31, 2026" in text
    assert "💰 Revenue won: 1M ₽ ▲\n" in text
    assert "📞 Contacts: 2 ▲" in text
    assert "• 📅 Dates" in reply.last.button_labels()

    earlier = await team.helen.press("◀ Previous")
    assert "Oct 27 – 31, 2026 · compared with Oct 22 – 26, 2026" in plain(earlier.messages[0].text)
    later = await team.helen.press("Next ▶")
    assert "Nov 1 – 5, 2026" in plain(later.messages[0].text)

    managers = await team.helen.press("👤 Managers")
    assert "Nov 1 – 5, 2026" in plain(managers.messages[0].text)
    annas = await team.helen.press("Anna")
    text = plain(annas.messages[0].text)
    assert "Anna" in text and "Nov 1 – 5, 2026 · compared with Oct 27 – 31, 2026" in text

    too_long = forged(period="custom", department=team.sales, since=9000, days=400)
    refused = await team.helen.press_forged(too_long)
    assert refused.messages == []
