"""The daily digest: at 08:30 in their own time zone a head gets their department's yesterday,
what needs attention (first), the big wins, each manager's day and the month against the plan,
with the team's chart as a PNG; an admin gets the company's. Once a day, whatever the sweeps,
restarts and second instances do; off when turned off; /digest sends it now; on Mondays it is
last week against the week before. Figures are checked against a small data set worked out by
hand.

Time: Wednesday 18 November 2026, 08:30 in Moscow (everyone's zone); "yesterday" is Tuesday
17 November. Times below are Moscow's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot import digest, render
from bot.i18n import create_i18n
from db.models import (
    Client,
    ClientChat,
    ClientKind,
    Complaint,
    ComplaintSeverity,
    ComplaintStatus,
    Deal,
    DealStage,
    Interaction,
    InteractionKind,
    OutboxMessage,
    OutboxStatus,
    Plan,
    PlanSubject,
    Role,
    Survey,
    SurveyKind,
    SurveyStatus,
    SurveyTrigger,
    Task,
    TaskStatus,
    User,
)
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, FakeUser, SentMessage
from tests.stories import colleague_joins
from tests.test_charts import png_size
from tests.test_pipeline import sales_and_service, user_id

MSK = ZoneInfo("Europe/Moscow")
WEDNESDAY = datetime(2026, 11, 18, 8, 30, tzinfo=MSK).astimezone(UTC)
MONDAY = datetime(2026, 11, 23, 8, 30, tzinfo=MSK).astimezone(UTC)


def msk(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MSK).astimezone(UTC)


def plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u2009", " ")


# The data set, straight into the database


@dataclass
class Sales:
    admin: FakeUser
    anna: FakeUser
    boris: FakeUser
    vera: FakeUser  # Service
    helen: FakeUser  # head of Sales
    complaint: int  # Romashka's, past its SLA


class Rows:
    def __init__(self, db: Db) -> None:
        self.db = db

    async def add(self, row):
        async with self.db.session_factory() as session:
            session.add(row)
            await session.commit()
            return row.id

    async def client(self, owner: int, name: str) -> int:
        return await self.add(
            Client(
                name=name,
                name_key=name.lower(),
                search_text=name.lower(),
                kind=ClientKind.COMPANY,
                owner_id=owner,
                created_at=msk(9, 1),
                last_contact_at=msk(11, 17),
            )
        )

    async def deal(self, owner, client, title, rubles, stage, created, closed=None) -> int:
        return await self.add(
            Deal(
                client_id=client,
                owner_id=owner,
                title=title,
                amount_minor=rubles * 100,
                currency="RUB",
                stage=stage,
                created_at=created,
                last_activity_at=created,
                closed_at=closed,
            )
        )

    async def contact(self, author, client, when, kind=InteractionKind.CALL) -> None:
        await self.add(
            Interaction(
                client_id=client, author_id=author, kind=kind, summary="x", occurred_at=when
            )
        )

    async def task(self, owner, text, due, *, client=None, deal=None, done=False) -> None:
        await self.add(
            Task(
                owner_id=owner,
                text=text,
                due_at=due,
                client_id=client,
                deal_id=deal,
                status=TaskStatus.DONE if done else TaskStatus.OPEN,
                reminded_at=due,  # reminded long ago: the sweep leaves them alone
            )
        )

    async def complaint(self, client, reporter, severity, created, due, resolved=None) -> int:
        return await self.add(
            Complaint(
                client_id=client,
                severity=severity,
                description="x",
                status=ComplaintStatus.RESOLVED if resolved else ComplaintStatus.OPEN,
                reporter_id=reporter,
                sla_due_at=due,
                resolved_at=resolved,
                created_at=created,
            )
        )

    async def low_score(self, owner, client, kind, score, answered, closed=None) -> None:
        chat = await self.add(
            ClientChat(telegram_id=8000 + client, client_id=client, name="x", locale="en")
        )
        await self.add(
            Survey(
                touchpoint=f"test:{client}:{score}",
                kind=kind,
                trigger=SurveyTrigger.MANUAL,
                status=SurveyStatus.ANSWERED,
                client_id=client,
                chat_id=chat,
                owner_id=owner,
                scheduled_at=answered - timedelta(hours=1),
                sent_at=answered - timedelta(hours=1),
                score=score,
                answered_at=answered,
                alerted_at=answered,
                loop_closed_at=closed,
            )
        )

    async def plan(self, subject: PlanSubject, subject_id: int, rubles: int) -> None:
        await self.add(
            Plan(
                month="2026-11", subject=subject, subject_id=subject_id, revenue_minor=rubles * 100
            )
        )


async def tuesday(fake: FakeTelegram, bot, db: Db) -> Sales:
    """Sales (head Helen) has Anna and Boris; Vera is in Service.

    Yesterday, 17 November: Anna logged 2 calls, opened "Boiler" (400 000, a task is planned on
    it) and won "Pump station" (1 500 000: a big win); Boris logged a visit and won "Old win"
    (600 000). Not yesterday: a call of Anna's at 23:30 on the 16th and one at 00:30 today.
    Earlier in November Anna won "Spare parts" (200 000). Open with no next step: Anna's
    "Heater" (300 000, Lilia: no task) and Boris's "Gaskets" (100 000, Kolos: its task is done);
    Boris's "Valve set" has one through a task on its client. Plans: Anna 2 000 000, Boris
    1 000 000, Sales 4 000 000.
    Complaints: Romashka's (high) was due on the 16th at 10:00 and is still open; Vasilek's came
    yesterday; Lilia's was resolved yesterday at 18:00, six hours past its SLA; Vera's client's
    is overdue too, but in Service. Low scores: Romashka NPS 3 yesterday (no contact since),
    Vasilek NPS 5 on the 12th (no contact since), Lilia CSAT 2 on the 10th (contacted after).
    Overdue tasks: Anna 1, Boris 2."""
    bot.clock.set(WEDNESDAY - timedelta(hours=2))
    admin, anna, boris, vera, helen = await sales_and_service(fake)
    a, b, v = [await user_id(db, person) for person in (anna, boris, vera)]
    rows = Rows(db)
    romashka, lilia = await rows.client(a, "Romashka"), await rows.client(a, "Lilia")
    vasilek, kolos = await rows.client(b, "Vasilek"), await rows.client(b, "Kolos")
    oduvanchik = await rows.client(v, "Oduvanchik")

    won, new = DealStage.WON, DealStage.NEW
    await rows.deal(a, romashka, "Pump station", 1_500_000, won, msk(11, 1), msk(11, 17, 15))
    await rows.deal(a, lilia, "Spare parts", 200_000, won, msk(11, 2), msk(11, 10))
    boiler = await rows.deal(a, romashka, "Boiler", 400_000, DealStage.PROPOSAL, msk(11, 17, 10))
    await rows.deal(a, lilia, "Heater", 300_000, new, msk(11, 5))
    await rows.deal(b, vasilek, "Old win", 600_000, won, msk(10, 20), msk(11, 17, 20))
    await rows.deal(b, vasilek, "Valve set", 800_000, DealStage.QUALIFIED, msk(11, 3))
    await rows.deal(b, kolos, "Gaskets", 100_000, new, msk(11, 4))
    await rows.deal(v, oduvanchik, "Service contract", 50_000, new, msk(11, 1))

    await rows.contact(a, romashka, msk(11, 17, 10))
    await rows.contact(a, lilia, msk(11, 17, 16))
    await rows.contact(b, vasilek, msk(11, 17, 11), InteractionKind.VISIT)
    await rows.contact(a, lilia, msk(11, 16, 23, 30))
    await rows.contact(a, lilia, msk(11, 18, 0, 30))

    await rows.task(a, "Call Romashka", msk(11, 16, 10), client=romashka)
    await rows.task(a, "Send the offer", msk(11, 20), deal=boiler)
    await rows.task(b, "Visit Vasilek", msk(11, 15), client=vasilek)
    await rows.task(b, "Prepare documents", msk(11, 17, 18))
    await rows.task(b, "Call Kolos", msk(11, 10), client=kolos, done=True)

    high, low = ComplaintSeverity.HIGH, ComplaintSeverity.LOW
    complaint = await rows.complaint(romashka, a, high, msk(11, 15, 10), msk(11, 16, 10))
    await rows.complaint(vasilek, b, low, msk(11, 17, 9), msk(11, 24, 9))
    await rows.complaint(
        lilia, a, ComplaintSeverity.MEDIUM, msk(11, 14), msk(11, 17), resolved=msk(11, 17, 18)
    )
    await rows.complaint(oduvanchik, v, high, msk(11, 15), msk(11, 16))

    nps, csat = SurveyKind.NPS, SurveyKind.CSAT
    await rows.low_score(a, romashka, nps, 3, msk(11, 17, 14))
    await rows.low_score(b, vasilek, nps, 5, msk(11, 12))
    await rows.low_score(a, lilia, csat, 2, msk(11, 10), closed=msk(11, 11))

    await rows.plan(PlanSubject.USER, a, 2_000_000)
    await rows.plan(PlanSubject.USER, b, 1_000_000)
    sales = await db.scalar(select(User.department_id).where(User.id == a))
    await rows.plan(PlanSubject.DEPARTMENT, sales, 4_000_000)
    await db.execute(update(User).values(created_at=msk(9, 1)))  # all joined long ago
    return Sales(admin, anna, boris, vera, helen, complaint)


def digests(person: FakeUser) -> list[SentMessage]:
    return [
        m
        for m in person.messages
        if "Daily digest ·" in (m.text or "") or "Weekly summary ·" in (m.text or "")
    ]


def charts(person: FakeUser) -> list[SentMessage]:
    return [m for m in person.messages if m.kind == "photo"]


async def at(bot, moment: datetime) -> None:
    bot.clock.set(moment)
    await bot.sweep()


# The stories


async def test_the_digest_comes_at_half_past_eight_local_once_a_day(fake, bot, db):
    sales = await tuesday(fake, bot, db)

    await at(bot, WEDNESDAY - timedelta(minutes=1))
    assert digests(sales.helen) == [] and digests(sales.admin) == []

    await at(bot, WEDNESDAY)
    [text] = digests(sales.helen)
    assert "📨 Daily digest · Sales" in text.text
    [chart] = charts(sales.helen)
    assert png_size(chart.file_bytes)[0] == 1080
    assert plain(chart.caption) == "📊 November to date: revenue and plan"
    assert sales.helen.messages.index(text) < sales.helen.messages.index(chart)
    [company] = digests(sales.admin)
    assert "📨 Daily digest · Company" in company.text
    for manager in (sales.anna, sales.boris, sales.vera):
        assert digests(manager) == [] and charts(manager) == []
    ids = (text.message_id, chart.message_id)
    calls = fake.calls_of("sendMessage", sales.helen.id) + fake.calls_of(
        "sendPhoto", sales.helen.id
    )
    sent = [call for call in calls if call.message and call.message.message_id in ids]
    assert len(sent) == 2
    assert all(call.params.get("protect_content") in (True, "true") for call in sent)
    # Sent: the outbox row keeps its caption but no longer the picture's bytes.
    helen_id = await user_id(db, sales.helen)
    row = await db.scalar(
        select(OutboxMessage).where(
            OutboxMessage.dedupe_key == f"digest:{helen_id}:2026-11-18:chart"
        )
    )
    assert row.status == OutboxStatus.SENT and "photo" not in row.payload
    assert row.payload["had_photo"] is True and row.payload["text"] == chart.caption

    await at(bot, WEDNESDAY + timedelta(hours=3))
    await bot.restart()
    await at(bot, WEDNESDAY + timedelta(hours=4))
    assert len(digests(sales.helen)) == 1 and len(charts(sales.helen)) == 1
    assert len(digests(sales.admin)) == 1

    await at(bot, WEDNESDAY + timedelta(days=1))  # Thursday 08:30
    assert len(digests(sales.helen)) == 2 and len(charts(sales.helen)) == 2


async def test_two_instances_queue_one_digest(fake, bot, db, settings):
    sales = await tuesday(fake, bot, db)
    bot.clock.set(WEDNESDAY)
    i18n = create_i18n(settings)

    await asyncio.gather(
        *(digest.send_digests(db.session_factory, i18n, bot.clock, settings) for _ in range(2))
    )

    # Helen's and the admin's text and chart, each queued once.
    keys = await db.all(select(OutboxMessage.dedupe_key).order_by(OutboxMessage.id))
    helen = await user_id(db, sales.helen)
    assert f"digest:{helen}:2026-11-18" in keys and f"digest:{helen}:2026-11-18:chart" in keys
    assert len([key for key in keys if key.startswith("digest:")]) == 4
    checked = await db.scalar(select(User.digest_checked_on).where(User.id == helen))
    assert checked == "2026-11-18"


async def test_the_digest_says_the_exceptions_first_with_figures_worked_out_by_hand(fake, bot, db):
    sales = await tuesday(fake, bot, db)

    await at(bot, WEDNESDAY)

    [message] = digests(sales.helen)
    text = plain(message.text)
    # Complaints: opened yesterday: Vasilek's. Breaches of yesterday: Lilia's, resolved late,
    # and Romashka's, unresolved past its SLA at the day's end. Vera's is not Sales'.
    # No next step: Heater 300 000 + Gaskets 100 000.
    expected = f"""📨 Daily digest · Sales
Tuesday, November 17, 2026

⚠️ Needs attention
• Complaints past their SLA: 1
   🟠 #{sales.complaint} Romashka · high · due Mon 16 Nov 2026, 10:00
• New complaints yesterday: 1
• SLA breaches yesterday: 2
• Low survey scores yesterday: 1
   Romashka: NPS 3 · Anna
• Low scores with no contact since: 2
• Overdue tasks: 3 (Boris 2, Anna 1)
• Deals with no next step: 2 · 400K ₽
   Heater — Lilia · 300K ₽ · Anna
   Gaskets — Kolos · 100K ₽ · Boris

🏆 Big wins
• Pump station — Romashka · 1.5M ₽ · Anna

📅 Yesterday by manager: contacts · new deals · won
Anna: 2 · 1 · 1 (1.5M ₽)
Boris: 1 · 0 · 1 (600K ₽)

📋 November to date: 2.3M ₽ of 4M ₽ (57%)
Anna: 1.7M ₽ of 2M ₽ (85%)
Boris: 600K ₽ of 1M ₽ (60%)"""
    assert text == expected

    # The admin's: the company by department; Vera's complaint counts too.
    [company] = digests(sales.admin)
    text = plain(company.text)
    assert "• Complaints past their SLA: 2" in text
    assert "📅 Yesterday by department: contacts · new deals · won" in text
    assert "Sales: 3 · 1 · 2 (2.1M ₽)" in text
    assert "📋 November to date: 2.3M ₽ of 4M ₽ (57%)" in text  # the departments' plans
    assert text.index("Needs attention") < text.index("Big wins") < text.index("Yesterday by")


async def test_on_monday_it_is_last_week_against_the_week_before(fake, bot, db):
    sales = await tuesday(fake, bot, db)

    await at(bot, MONDAY)

    [message] = digests(sales.helen)
    text = plain(message.text)
    # 16–22 November: Pump station 1 500 000 + Old win 600 000; 9–15: Spare parts 200 000.
    # Opened: Boiler against none. Contacts: 5 against none.
    assert text.startswith(
        "📨 Weekly summary · Sales\nNov 16 – 22, 2026 · compared with Nov 9 – 15"
    )
    assert "📈 Last week against the week before" in text
    assert "💰 Revenue won: 2.1M ₽ ▲ 950%" in text
    assert "🏆 Deals won: 2 ▲ 100% · opened: 1 ▲" in text
    assert "📞 Contacts: 5 ▲ · new clients: 0" in text
    assert "• New complaints last week: 1" in text and "• SLA breaches last week: 2" in text
    assert "📅 Last week by manager: contacts · new deals · won" in text
    assert "Anna: 4 · 1 · 1 (1.5M ₽)" in text and "Boris: 1 · 0 · 1 (600K ₽)" in text
    assert text.index("Needs attention") < text.index("Last week against")
    [chart] = charts(sales.helen)
    assert png_size(chart.file_bytes)[0] == 1080


async def test_turned_off_in_settings_and_on_again_at_another_time(fake, bot, db):
    sales = await tuesday(fake, bot, db)

    screen = await sales.anna.tap("⚙️ Settings")
    assert "Daily digest" not in screen.text
    assert "📨 Daily digest" not in screen.last.button_labels()

    await sales.helen.tap("⚙️ Settings")
    question = await sales.helen.press("📨 Daily digest")
    assert "When?" in question.text
    reply = await sales.helen.press("🔕 Off")
    assert "Daily digest: off" in reply.text
    await at(bot, WEDNESDAY)
    assert digests(sales.helen) == []
    assert len(digests(sales.admin)) == 1  # the admin's is still on

    await sales.helen.press("📨 Daily digest")
    reply = await sales.helen.press("07:00")
    assert "Daily digest: 07:00" in reply.text
    await at(bot, WEDNESDAY + timedelta(days=1) - timedelta(minutes=91))  # Thursday 06:59
    assert digests(sales.helen) == []
    await at(bot, WEDNESDAY + timedelta(days=1) - timedelta(minutes=90))  # Thursday 07:00
    assert len(digests(sales.helen)) == 1

    forged = await sales.anna.press_forged("set:sd:0700")  # a manager's digest: refused
    assert "You don't have access to this." in forged.callback_answer["text"]
    assert (await db.scalar(select(User.digest_time).where(User.telegram_id == 2001))) == "08:30"


async def test_digest_on_demand_for_heads_and_a_polite_no_for_managers(fake, bot, db):
    sales = await tuesday(fake, bot, db)
    bot.clock.set(WEDNESDAY - timedelta(hours=1))  # 07:30: before the morning's

    reply = await sales.helen.command("digest")
    text, chart = reply.messages
    assert "📨 Daily digest · Sales" in text.text and "Heater — Lilia" in plain(text.text)
    assert chart.kind == "photo" and png_size(chart.file_bytes)[0] == 1080
    assert all(c.params.get("protect_content") in (True, "true") for c in reply.calls[-2:])

    refused = await sales.anna.command("digest")
    assert "for heads of department and administrators" in refused.text
    assert "Your own figures are in 📊 KPI." in refused.text

    await at(bot, WEDNESDAY)  # the morning's still comes
    assert len(digests(sales.helen)) == 2


async def test_a_head_without_a_department_gets_no_digest_and_no_error(fake, bot, db):
    sales = await tuesday(fake, bot, db)
    await db.execute(
        update(User).where(User.telegram_id == sales.helen.id).values(department_id=None)
    )

    await at(bot, WEDNESDAY)

    assert digests(sales.helen) == []
    checked = await db.scalar(
        select(User.digest_checked_on).where(User.telegram_id == sales.helen.id)
    )
    assert checked == "2026-11-18"  # looked at once, not again at every sweep


async def test_a_department_of_sixty_still_fits_in_one_message(fake, bot, db):
    sales = await tuesday(fake, bot, db)
    department = await db.scalar(
        select(User.department_id).where(User.telegram_id == sales.anna.id)
    )
    rows = Rows(db)
    for n in range(60):
        manager = await rows.add(
            User(
                telegram_id=50_000 + n,
                full_name=f"Konstantin Konstantinopolsky-Zadunaisky {n}",
                role=Role.MANAGER,
                department_id=department,
                locale="en",
                timezone="Europe/Moscow",
            )
        )
        client = await rows.client(manager, f"Client {n}")
        await rows.deal(
            manager, client, f"Deal {n}", 10_000 + n, DealStage.WON, msk(11, 1), msk(11, 17)
        )
    bot.clock.set(WEDNESDAY)

    reply = await sales.helen.command("digest")

    text = plain(reply.messages[0].text)
    assert len(text) <= 4096
    assert "…and" in text and "more." in text
    assert text.index("Needs attention") < text.index("Yesterday by manager")
    assert png_size(reply.messages[1].file_bytes)[0] == 1080  # 62 rows: a tall leaderboard


async def test_the_first_digest_comes_the_morning_after_one_joins(fake, bot, db):
    bot.clock.set(WEDNESDAY + timedelta(hours=4))  # 12:30
    admin, _anna, _boris, _vera, helen = await sales_and_service(fake)
    await db.execute(update(User).values(created_at=bot.clock.now()))  # they joined just now

    await bot.sweep()
    assert digests(helen) == [] and digests(admin) == []

    await at(bot, WEDNESDAY + timedelta(days=1))  # Thursday 08:30
    assert len(digests(helen)) == 1 and len(digests(admin)) == 1


async def test_two_heads_of_one_department_each_get_it_in_their_language(fake, bot, db):
    """The department's figures are read once for both heads; each gets them in their own
    language, with their own name under the chart."""
    sales = await tuesday(fake, bot, db)
    galina = await colleague_joins(
        fake, sales.admin, 3002, "Galina", role="head of department", language="ru"
    )
    await db.execute(update(User).values(created_at=msk(9, 1)))

    await at(bot, WEDNESDAY)

    [english] = digests(sales.helen)
    [russian] = [m for m in galina.messages if "Ежедневная сводка ·" in (m.text or "")]
    assert "📨 Daily digest · Sales" in english.text
    assert "📨 Ежедневная сводка · Sales" in russian.text
    assert "• Deals with no next step: 2 · 400K ₽" in plain(english.text)
    assert "• Сделок без следующего шага: 2 · 400 тыс. ₽" in plain(russian.text)
    assert plain(russian.text).count("\n") == plain(english.text).count("\n")
    [helen_chart], [galina_chart] = charts(sales.helen), charts(galina)
    assert plain(galina_chart.caption) == "📊 Ноябрь, с начала месяца: выручка и план"
    assert png_size(galina_chart.file_bytes)[0] == 1080
    assert galina_chart.file_bytes != helen_chart.file_bytes  # "получатель: Galina" under it


async def test_a_chart_that_fails_does_not_hold_the_digest_back(fake, bot, db, monkeypatch):
    sales = await tuesday(fake, bot, db)

    async def broken(_item: render.Picture) -> bytes | None:
        raise render.RenderError("the worker is out of order")

    monkeypatch.setattr(render, "render", broken)
    await at(bot, WEDNESDAY)
    await at(bot, WEDNESDAY + timedelta(minutes=5))

    assert len(digests(sales.helen)) == 1 and charts(sales.helen) == []
    assert len(digests(sales.admin)) == 1  # once, not again at every sweep
