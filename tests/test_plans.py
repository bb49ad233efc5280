"""📋 Plans: a head sets each manager's monthly targets, an admin each department's; plan against
fact is on the pipeline screen. The facts come from a fixed data set and are checked against
figures worked out by hand, with months counted in the viewer's time zone (Moscow here)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.keyboards.callbacks import PlanAction, PlanCb
from db.models import DealStage, Plan, PlanSubject
from tests.conftest import Db
from tests.stories import colleague_joins, user_row
from tests.test_contact_log import add_client
from tests.test_pipeline import (
    add_contacts,
    add_deal,
    add_deal_minor,
    leaked_nothing,
    plain,
    sales_and_service,
    user_id,
)

MOSCOW = ZoneInfo("Europe/Moscow")
# Wednesday 18 November 2026, 12:00 in Moscow. Working days from today to the month's end:
# 18, 19, 20; 23–27; 30 = 9.
NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
WON, LOST = DealStage.WON, DealStage.LOST


def msk(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MOSCOW).astimezone(UTC)


async def plans_of(db: Db) -> dict[tuple[str, PlanSubject, int], tuple[int, int, int]]:
    rows = await db.all(select(Plan))
    return {
        (p.month, p.subject, p.subject_id): (p.revenue_minor, p.deals_won, p.interactions)
        for p in rows
    }


async def add_plan(db: Db, month: str, subject: PlanSubject, subject_id: int, *figures: int):
    async with db.session_factory() as session:
        revenue, deals, contacts = figures
        session.add(
            Plan(
                month=month,
                subject=subject,
                subject_id=subject_id,
                revenue_minor=revenue,
                deals_won=deals,
                interactions=contacts,
            )
        )
        await session.commit()


async def test_a_head_sets_a_plan_and_the_pipeline_shows_plan_against_fact(fake, bot, db):
    _admin, anna, boris, _vera, helen = await sales_and_service(fake)
    bot.clock.set(NOW)
    client = await add_client(db, anna, "Romashka LLC")
    other = await add_client(db, boris, "Vasilek JSC")
    # November in Moscow runs from 31 Oct 21:00 UTC to 30 Nov 21:00 UTC.
    await add_deal(db, anna, client, "W1", 1_000_000, WON, closed_at=msk(2026, 11, 1, 0, 30))
    await add_deal(db, anna, client, "W2", 200_000, WON, closed_at=msk(2026, 11, 10, 12))
    await add_deal(db, anna, client, "W3", 300_000, WON, closed_at=msk(2026, 10, 31, 23, 30))
    await add_deal(
        db, anna, client, "In dollars", 5_000, WON, currency="USD", closed_at=msk(2026, 11, 12, 12)
    )
    await add_deal(db, anna, client, "Lost", 700_000, LOST, closed_at=msk(2026, 11, 5, 12))
    await add_deal(db, anna, client, "Open", 400_000, DealStage.PROPOSAL)
    await add_deal(db, boris, other, "Boris's", 900_000, WON, closed_at=msk(2026, 11, 6, 12))
    await add_contacts(
        db,
        anna,
        client,
        msk(2026, 11, 1, 0, 30),
        msk(2026, 11, 3, 10),
        msk(2026, 11, 17, 18),
        msk(2026, 10, 31, 23, 30),  # October
    )
    await add_contacts(db, boris, other, msk(2026, 11, 5, 10))
    # Anna's November: 1 000 000 + 200 000 = 1 200 000 ₽ in 2 deals (not W3, won on 31 October
    # at 23:30 Moscow; not the dollars, not the lost one), 3 contacts.

    await helen.tap("💼 Deals")
    team = await helen.press("📋 Plans")
    text = plain(team.text)
    assert "Plans: November 2026 · working days left: 9" in text
    assert "Anna: no plan · won 1.2M ₽ · deals won: 2 · contacts: 3" in text
    assert "Boris: no plan · won 900K ₽ · deals won: 1 · contacts: 1" in text
    assert "Vera" not in text
    assert team.last.button_labels() == [
        "Anna",
        "Boris",
        "◀ October",
        "December ▶",
        "📋 Copy last month",
        "📈 Last year +N%",
        "← Pipeline",
    ]

    annas = await helen.press("Anna")
    text = plain(annas.text)
    assert "Anna · November 2026" in text
    assert "No plan for this month yet." in text
    assert "Won: 1,200,000 ₽ · deals won: 2 · contacts: 3" in text
    assert "Working days left: 9" in text

    question = await helen.press("✏️ Set plan")
    assert "Revenue from deals won, in ₽?" in question.text and "Now: 0 ₽." in plain(question.text)
    wrong = await helen.send("lots")
    assert "I couldn't read that amount." in wrong.text
    assert "Revenue from deals won" in wrong.text  # the same question again
    wrong = await helen.send("$5000")
    assert "Plans are in ₽: type the amount without another currency." in wrong.text
    deals_question = await helen.send("2 млн")
    assert "How many deals won? Now: 0." in deals_question.text
    back = await helen.press("← Back")
    assert "Revenue from deals won" in back.text
    await helen.send("2 млн")
    wrong = await helen.send("four")
    assert "Type a whole number, for example: 12." in wrong.text
    assert "How many deals won?" in wrong.text
    contacts_question = await helen.send("4")
    assert "How many contacts logged" in contacts_question.text
    saved = await helen.send("10")

    # 1 200 000 of 2 000 000 = 60%; 2 of 4 = 50%; 3 of 10 = 30%.
    text = plain(saved.text)
    assert "Saved ✅" in text
    assert "Revenue: 1,200,000 ₽ of 2,000,000 ₽ (60%)" in text
    assert "Deals won: 2 of 4 (50%)" in text
    assert "Contacts: 3 of 10 (30%)" in text
    anna_id, helen_id = await user_id(db, anna), await user_id(db, helen)
    assert await plans_of(db) == {("2026-11", PlanSubject.USER, anna_id): (200_000_000, 4, 10)}
    assert (await db.scalar(select(Plan))).set_by_id == helen_id

    pipeline = plain((await anna.tap("💼 Deals")).text)
    assert "📅 November: 1.2M ₽ of 2M ₽, 60%, working days left: 9" in pipeline
    assert "Deals won: 2 of 4 · contacts: 3 of 10" in pipeline
    await helen.tap("💼 Deals")
    await helen.press("👥 By manager")
    drill_down = plain((await helen.press("Anna")).text)
    assert "📅 November: 1.2M ₽ of 2M ₽, 60%, working days left: 9" in drill_down

    # Skip keeps what is set: only the deals change.
    await helen.press("📋 Plans")
    await helen.press("Anna")
    await helen.press("✏️ Set plan")
    assert "Now: 4." in (await helen.press("Skip ➡️")).text
    await helen.send("5")
    saved = await helen.press("Skip ➡️")
    assert "Deals won: 2 of 5 (40%)" in saved.text
    assert await plans_of(db) == {("2026-11", PlanSubject.USER, anna_id): (200_000_000, 5, 10)}

    # October: W3 (23:30 on the 31st, Moscow) and the contact at that moment; no working days.
    await helen.press("← Plans")
    october = plain((await helen.press("◀ October")).text)
    assert "Plans: October 2026 · working days left: 0" in october
    assert "Anna: no plan · won 300K ₽ · deals won: 1 · contacts: 1" in october

    # 30 November 22:00 UTC is already 1 December in Moscow: December's plan, and its
    # working days: 1–4, 7–11, 14–18, 21–25, 28–31 = 23.
    bot.clock.set(datetime(2026, 11, 30, 22, 0, tzinfo=UTC))
    december = plain((await anna.tap("💼 Deals")).text)
    assert "📅 December: no plan yet. Won 0 ₽, working days left: 23" in december


async def test_copying_last_months_plans(fake, bot, db):
    _admin, anna, boris, vera, helen = await sales_and_service(fake)
    bot.clock.set(NOW)
    ids = {p: await user_id(db, p) for p in (anna, boris, vera)}
    await add_plan(db, "2026-10", PlanSubject.USER, ids[anna], 150_000_000, 3, 20)
    await add_plan(db, "2026-10", PlanSubject.USER, ids[vera], 10_000_000, 1, 1)  # Service
    await add_plan(db, "2026-11", PlanSubject.USER, ids[boris], 50_000_000, 1, 5)

    await helen.tap("💼 Deals")
    await helen.press("📋 Plans")
    copied = await helen.press("📋 Copy last month")
    text = plain(copied.text)
    assert "Copied from October 2026: 1." in text
    assert "Anna: 0 ₽ of 1.5M ₽ (0%) · deals won: 0 of 3 · contacts: 0 of 20" in text
    assert "Boris: 0 ₽ of 500K ₽ (0%) · deals won: 0 of 1 · contacts: 0 of 5" in text
    plans = await plans_of(db)
    assert plans[("2026-11", PlanSubject.USER, ids[anna])] == (150_000_000, 3, 20)
    assert plans[("2026-11", PlanSubject.USER, ids[boris])] == (50_000_000, 1, 5)  # kept
    assert ("2026-11", PlanSubject.USER, ids[vera]) not in plans  # not Helen's team

    nothing = await helen.press("December ▶")
    await helen.press("◀ November")  # and back: the months switch both ways
    await helen.press("◀ October")
    nothing = await helen.press("📋 Copy last month")
    assert "September 2026 has no plans to copy." in nothing.text


async def test_last_years_month_plus_ten_per_cent(fake, bot, db):
    admin, anna, boris, vera, helen = await sales_and_service(fake)
    dmitry = await colleague_joins(fake, admin, 2004, "Dmitry")  # joined since: no figures
    bot.clock.set(NOW)
    ids = {p: await user_id(db, p) for p in (anna, boris, vera, dmitry)}
    a, b, v = [await add_client(db, p, f"Client of {p.first_name}") for p in (anna, boris, vera)]
    # November 2025. Anna: 1 000 000,00 + 200 000,00 + 34 567,89 = 1 234 567,89 ₽, 3 deals,
    # 15 contacts. Boris: 500 000 ₽ at 23:30 on 30 November (Moscow), 5 contacts; the 100 000
    # at 00:30 on 1 December (Moscow; still November in UTC) is December's.
    await add_deal(db, anna, a, "A1", 1_000_000, WON, closed_at=msk(2025, 11, 3, 12))
    await add_deal(db, anna, a, "A2", 200_000, WON, closed_at=msk(2025, 11, 14, 12))
    await add_deal_minor(db, anna, a, "A3", 3_456_789, WON, closed_at=msk(2025, 11, 28, 12))
    await add_contacts(db, anna, a, *(msk(2025, 11, day, 11) for day in range(1, 16)))
    await add_deal(db, boris, b, "B1", 500_000, WON, closed_at=msk(2025, 11, 30, 23, 30))
    await add_deal(db, boris, b, "B2", 100_000, WON, closed_at=msk(2025, 12, 1, 0, 30))
    await add_contacts(db, boris, b, *(msk(2025, 11, day, 11) for day in range(10, 15)))
    await add_deal(db, vera, v, "V1", 800_000, WON, closed_at=msk(2025, 11, 20, 12))
    await add_plan(db, "2026-11", PlanSubject.USER, ids[dmitry], 77_700_000, 7, 77)

    await helen.tap("💼 Deals")
    await helen.press("📋 Plans")
    question = await helen.press("📈 Last year +N%")
    assert "Plans for November 2026: each one's figures of November 2025 plus" in question.text
    assert question.last.button_labels() == ["+5%", "+10%", "+15%", "+20%", "✖ Cancel"]
    grown = await helen.press("+10%")

    # Anna: 1 234 567,89 × 1,1 = 1 358 024,679 → 1 358 025 ₽; 3 × 1,1 = 3,3 → 3;
    # 15 × 1,1 = 16,5 → 17. Boris: 550 000 ₽; 1,1 → 1; 5,5 → 6. Halves round up.
    text = plain(grown.text)
    assert "Set from November 2025 +10%: 2." in text
    assert "Anna: 0 ₽ of 1.4M ₽ (0%) · deals won: 0 of 3 · contacts: 0 of 17" in text
    assert "Boris: 0 ₽ of 550K ₽ (0%) · deals won: 0 of 1 · contacts: 0 of 6" in text
    assert "Dmitry: 0 ₽ of 777K ₽ (0%) · deals won: 0 of 7 · contacts: 0 of 77" in text
    plans = await plans_of(db)
    assert plans == {
        ("2026-11", PlanSubject.USER, ids[anna]): (135_802_500, 3, 17),
        ("2026-11", PlanSubject.USER, ids[boris]): (55_000_000, 1, 6),
        ("2026-11", PlanSubject.USER, ids[dmitry]): (77_700_000, 7, 77),  # kept as it was
    }
    annas = await helen.press("Anna")
    assert "Revenue: 0 ₽ of 1,358,025 ₽ (0%)" in plain(annas.text)

    # A typed number: 1 234 567,89 × 1,2 = 1 481 481,468 → 1 481 481 ₽; 3,6 → 4; 18.
    await helen.press("← Plans")
    await helen.press("📈 Last year +N%")
    wrong = await helen.send("ten")
    assert "Type a whole number of per cent, for example: 10." in wrong.text
    assert "Plans for November 2026" in wrong.text  # asked again
    grown = await helen.send("20")
    assert "Set from November 2025 +20%: 2." in grown.text
    plans = await plans_of(db)
    assert plans[("2026-11", PlanSubject.USER, ids[anna])] == (148_148_100, 4, 18)
    assert plans[("2026-11", PlanSubject.USER, ids[boris])] == (60_000_000, 1, 6)
    assert ("2026-11", PlanSubject.USER, ids[vera]) not in plans


async def test_an_admin_sets_a_department_plan(fake, bot, db):
    admin, anna, boris, vera, helen = await sales_and_service(fake)
    bot.clock.set(NOW)
    a, b, v = [await add_client(db, p, f"Client of {p.first_name}") for p in (anna, boris, vera)]
    await add_deal(db, anna, a, "A1", 600_000, WON, closed_at=msk(2026, 11, 10, 12))
    await add_deal(db, boris, b, "B1", 300_000, WON, closed_at=msk(2026, 11, 11, 12))
    await add_deal(db, vera, v, "V1", 1_000_000, WON, closed_at=msk(2026, 11, 12, 12))

    await admin.tap("💼 Deals")
    team = await admin.press("📋 Plans")
    text = plain(team.text)
    assert "Sales: no plan · won 900K ₽ · deals won: 2 · contacts: 0" in text
    assert "Service: no plan · won 1M ₽ · deals won: 1 · contacts: 0" in text
    await admin.press("Sales")
    await admin.press("✏️ Set plan")
    await admin.send("3 млн ₽")
    await admin.send("10")
    saved = await admin.send("100")
    # Sales: 600 000 + 300 000 = 900 000 of 3 000 000 = 30%.
    text = plain(saved.text)
    assert "Sales · November 2026" in text
    assert "Revenue: 900,000 ₽ of 3,000,000 ₽ (30%)" in text
    assert "Deals won: 2 of 10 (20%)" in text
    sales = (await user_row(db, anna.id)).department_id
    assert await plans_of(db) == {
        ("2026-11", PlanSubject.DEPARTMENT, sales): (300_000_000, 10, 100)
    }

    head = plain((await helen.tap("💼 Deals")).text)
    assert "📅 November: 900K ₽ of 3M ₽, 30%, working days left: 9" in head
    assert "Deals won: 2 of 10 · contacts: 0 of 100" in head
    # The company: the departments' plans against everyone's fact, 1 900 000 of 3 000 000.
    company = plain((await admin.tap("💼 Deals")).text)
    assert "📅 November: 1.9M ₽ of 3M ₽, 63%, working days left: 9" in company
    assert "Deals won: 3 of 10 · contacts: 0 of 100" in company


async def test_plans_of_others_are_not_found(fake, bot, db):
    _admin, anna, _boris, vera, helen = await sales_and_service(fake)
    bot.clock.set(NOW)
    ids = {p: await user_id(db, p) for p in (anna, vera, helen)}
    await add_plan(db, "2026-11", PlanSubject.USER, ids[vera], 123_400_000, 4, 40)

    # A manager has no Plans button, and forged ones find nothing, not even their own plan.
    reply = await anna.tap("💼 Deals")
    assert "📋 Plans" not in reply.last.button_labels()
    for forged in (
        PlanCb(action=PlanAction.HOME),
        PlanCb(action=PlanAction.OPEN, month="2026-11", subject_id=ids[anna]),
        PlanCb(action=PlanAction.OPEN, month="2026-11", subject_id=ids[vera]),
        PlanCb(action=PlanAction.SET, month="2026-11", subject_id=ids[anna]),
        PlanCb(action=PlanAction.COPY, month="2026-11"),
        PlanCb(action=PlanAction.GROW, month="2026-11"),
        PlanCb(action=PlanAction.GROW_BY, month="2026-11", value="10"),
    ):
        assert leaked_nothing(await anna.press_forged(forged.pack())), forged

    # A head (whose plans are their managers'): not another department's manager, not
    # themself, not anyone unknown.
    await helen.tap("💼 Deals")
    for forged in (
        PlanCb(action=PlanAction.OPEN, month="2026-11", subject_id=ids[vera]),
        PlanCb(action=PlanAction.SET, month="2026-11", subject_id=ids[vera]),
        PlanCb(action=PlanAction.OPEN, month="2026-11", subject_id=ids[helen]),
        PlanCb(action=PlanAction.SET, month="2026-11", subject_id=ids[helen]),
        PlanCb(action=PlanAction.SET, month="2026-11", subject_id=10**6),
    ):
        assert leaked_nothing(await helen.press_forged(forged.pack())), forged
    team = plain((await helen.press("📋 Plans")).text)
    assert "Anna: no plan" in team and "Vera" not in team and "1.2M" not in team
    assert await plans_of(db) == {("2026-11", PlanSubject.USER, ids[vera]): (123_400_000, 4, 40)}
