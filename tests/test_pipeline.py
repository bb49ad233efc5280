"""💼 Deals: a manager sees their open deals by stage with sums weighted by each stage's chance;
a head sees the department by manager and by product line; an admin the company by department
too. The figures are checked against sums worked out by hand; forged buttons show nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.handlers import pipeline
from bot.keyboards.callbacks import DealAction, DealCb, PipelineAction, PipelineCb
from db.models import Deal, DealStage, Interaction, InteractionKind, ReferenceItem, ReferenceKind
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, FakeUser, Reply
from tests.stories import add_department, admin_joins, colleague_joins, user_row
from tests.test_contact_log import add_client

NOT_FOUND = "Not found: it may have been deleted or archived."


# Helpers: the data set goes straight into the database, the rest through the bot


def plain(text: str) -> str:
    """Amounts come with no-break spaces ("350K ₽"): compared as plain spaces."""
    return text.replace("\xa0", " ")


async def user_id(db: Db, person: FakeUser) -> int:
    row = await user_row(db, person.id)
    assert row is not None
    return row.id


async def add_line(db: Db, name: str) -> int:
    async with db.session_factory() as session:
        item = ReferenceItem(kind=ReferenceKind.PRODUCT_LINE, name=name)
        session.add(item)
        await session.commit()
        return item.id


async def add_deal(
    db: Db,
    owner: FakeUser,
    client_id: int,
    title: str,
    amount: int,
    stage: DealStage = DealStage.NEW,
    *,
    currency: str = "RUB",
    line_id: int | None = None,
    active_at: datetime | None = None,
    close_on: date | None = None,
    closed_at: datetime | None = None,
) -> int:
    """A deal of `amount` whole rubles (dollars...): add_deal_minor takes kopecks."""
    return await add_deal_minor(
        db,
        owner,
        client_id,
        title,
        amount * 100,
        stage,
        currency=currency,
        line_id=line_id,
        active_at=active_at,
        close_on=close_on,
        closed_at=closed_at,
    )


async def add_deal_minor(
    db: Db,
    owner: FakeUser,
    client_id: int,
    title: str,
    amount_minor: int,
    stage: DealStage = DealStage.NEW,
    *,
    currency: str = "RUB",
    line_id: int | None = None,
    active_at: datetime | None = None,
    close_on: date | None = None,
    closed_at: datetime | None = None,
) -> int:
    owner_id = await user_id(db, owner)
    async with db.session_factory() as session:
        deal = Deal(
            client_id=client_id,
            owner_id=owner_id,
            title=title,
            amount_minor=amount_minor,
            currency=currency,
            stage=stage,
            product_line_id=line_id,
            expected_close_on=close_on,
            closed_at=closed_at,
        )
        if active_at is not None:
            deal.last_activity_at = active_at
        session.add(deal)
        await session.commit()
        return deal.id


async def add_contacts(db: Db, author: FakeUser, client_id: int, *moments: datetime) -> None:
    author_id = await user_id(db, author)
    async with db.session_factory() as session:
        session.add_all(
            Interaction(
                client_id=client_id,
                author_id=author_id,
                kind=InteractionKind.CALL,
                summary="Called",
                occurred_at=moment,
            )
            for moment in moments
        )
        await session.commit()


def deal_ids(message) -> list[int]:
    """The deals a list offers, in order, from their buttons' callback data."""
    return [
        DealCb.unpack(button["callback_data"]).deal_id
        for row in message.inline_buttons()
        for button in row
        if button["callback_data"].startswith("dl:")
    ]


def leaked_nothing(reply: Reply) -> bool:
    """A refused button: an alert, and no message sent or changed."""
    return (
        reply.callback_answer is not None
        and reply.callback_answer.get("text") == NOT_FOUND
        and not reply.messages
        and not reply.edits
    )


async def sales_and_service(fake: FakeTelegram):
    """Sales: managers 2001 and 2002, head 3001; Service: manager 2003."""
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    await add_department(admin, "Service", "service")
    anna = await colleague_joins(fake, admin, 2001, "Anna")
    boris = await colleague_joins(fake, admin, 2002, "Boris")
    vera = await colleague_joins(fake, admin, 2003, "Vera", department="Service")
    helen = await colleague_joins(fake, admin, 3001, "Helen", role="head of department")
    return admin, anna, boris, vera, helen


# The stories


async def test_a_managers_pipeline_counts_sums_and_weights_open_deals_by_stage(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    anna = await colleague_joins(fake, admin, 2001, "Anna")
    boris = await colleague_joins(fake, admin, 2002, "Boris")
    now = bot.clock.now()
    today = now.date()
    client = await add_client(db, anna, "Romashka LLC")
    boiler = await add_deal(db, anna, client, "Boiler", 100_000, active_at=now - timedelta(days=20))
    pumps = await add_deal(
        db, anna, client, "Pumps", 200_000, DealStage.PROPOSAL, close_on=today + timedelta(days=9)
    )
    valves = await add_deal(
        db, anna, client, "Valves", 50_000, DealStage.PROPOSAL, close_on=today - timedelta(days=2)
    )
    export = await add_deal(
        db, anna, client, "Export", 4_000, DealStage.NEGOTIATION, currency="USD"
    )
    # Not in the pipeline: closed deals, and someone else's.
    await add_deal(db, anna, client, "Won", 900_000, DealStage.WON, closed_at=now)
    await add_deal(db, anna, client, "Lost", 800_000, DealStage.LOST, closed_at=now)
    await add_deal(db, boris, await add_client(db, boris, "Vasilek JSC"), "Other", 700_000)

    reply = await anna.tap("💼 Deals")

    # New 100 000 × 10% = 10 000; proposal (200 000 + 50 000) × 50% = 125 000;
    # negotiation 4 000 $ × 75% = 3 000 $. Stale: Boiler (20 days idle), Valves (overdue).
    text = plain(reply.text)
    assert "Pipeline: Anna" in text
    assert "no plan yet" in text and "Plans" not in text  # a manager sets no plans
    assert "New, 10%: 1 · 100K ₽ · 10K ₽" in text
    assert "Qualified, 25%: —" in text
    assert "Proposal, 50%: 2 · 250K ₽ · 125K ₽" in text
    assert "Negotiation, 75%: 1 · 4,000 $ · 3,000 $" in text
    assert "Total: 4 · 350K ₽ + 4,000 $ · 135K ₽ + 3,000 $" in text
    assert "⚠️ Stale: 2 (no activity for 14 days, or past the close date)" in text
    assert reply.last.button_labels() == ["📋 Open deals", "➕ New deal"]
    new_deal = PipelineCb.unpack(reply.last.button("➕ New deal")["callback_data"])
    assert new_deal.action is PipelineAction.NEW

    listing = await anna.press("📋 Open deals")
    text = plain(listing.text)
    assert "Open deals: Anna (4)" in text
    assert "⚠️ 1. Boiler — Romashka LLC · New · 100,000 ₽" in text
    assert "⚠️ 2. Valves — Romashka LLC · Proposal · 50,000 ₽" in text  # the earlier close first
    assert "3. Pumps — Romashka LLC · Proposal · 200,000 ₽" in text
    assert "4. Export — Romashka LLC · Negotiation · 4,000 $" in text
    assert deal_ids(listing.last) == [boiler, valves, pumps, export]
    labels = listing.last.button_labels()
    assert labels[:4] == ["⚠️ 1. Boiler", "⚠️ 2. Valves", "3. Pumps", "4. Export"]
    opened = DealCb.unpack(listing.last.button("3. Pumps")["callback_data"])
    assert (opened.action, opened.deal_id) == (DealAction.OPEN, pumps)

    proposals = await anna.press("Proposal")
    assert "Stage: Proposal" in proposals.text and "Open deals: Anna (2)" in proposals.text
    assert deal_ids(proposals.last) == [valves, pumps]
    assert "• Proposal" in proposals.last.button_labels()
    back = await anna.press("← Pipeline")
    assert "Total: 4 · 350K ₽ + 4,000 $ · 135K ₽ + 3,000 $" in plain(back.text)


async def test_open_deals_come_eight_a_page_with_long_titles_cut(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    anna = await colleague_joins(fake, admin, 2001, "Anna")
    client = await add_client(db, anna, "Romashka LLC")
    long_title = "Supply of industrial boilers for the northern workshop, phase " + "I" * 120
    ids = [await add_deal(db, anna, client, f"{long_title} {n}", 1_000 * n) for n in range(1, 11)]
    await anna.tap("💼 Deals")

    first = await anna.press("📋 Open deals")
    assert deal_ids(first.last) == ids[:8]
    labels = first.last.button_labels()
    assert labels[0] == "1. Supply of industrial boilers for the…"
    assert all(len(label) <= 40 for label in labels)
    assert "◀" not in labels and "1/2" in labels and "▶" in labels
    assert len(first.last.html or "") < 4096

    second = await anna.press("▶")
    assert deal_ids(second.last) == ids[8:]
    assert "9. Supply" in second.text and "2/2" in second.last.button_labels()


async def test_a_head_sees_the_department_by_manager_and_product_line(fake, bot, db):
    _admin, anna, boris, vera, helen = await sales_and_service(fake)
    boilers, pumps = await add_line(db, "Boilers"), await add_line(db, "Pumps")
    a, b, v = [await add_client(db, p, f"Client of {p.first_name}") for p in (anna, boris, vera)]
    await add_deal(db, anna, a, "A1", 100_000, line_id=boilers)
    await add_deal(db, anna, a, "A2", 200_000, DealStage.PROPOSAL, line_id=pumps)
    await add_deal(db, boris, b, "B1", 400_000, DealStage.NEGOTIATION, line_id=boilers)
    await add_deal(db, vera, v, "V1", 1_000_000, DealStage.QUALIFIED, line_id=pumps)
    await add_deal(db, vera, v, "V2", 20_000)

    # Sales: 10 000 + 100 000 + 300 000 = 410 000 weighted, Service is not counted.
    reply = await helen.tap("💼 Deals")
    text = plain(reply.text)
    assert "Pipeline: Sales" in text
    assert "Total: 3 · 700K ₽ · 410K ₽" in text
    assert "no plan yet" in text and "📋 Plans" in text  # pointed to where plans are set
    assert reply.last.button_labels() == [
        "📋 Open deals",
        "➕ New deal",
        "👥 By manager",
        "📦 By product line",
        "📋 Plans",
    ]

    by_manager = await helen.press("👥 By manager")
    text = plain(by_manager.text)
    assert "Boris: 1 · 400K ₽ · 300K ₽" in text
    assert "Anna: 2 · 300K ₽ · 110K ₽" in text
    assert text.index("Boris") < text.index("Anna")  # the biggest weighted sum first
    assert "Vera" not in text
    assert by_manager.last.button_labels() == ["Boris", "Anna", "← Pipeline"]

    annas = await helen.press("Anna")
    text = plain(annas.text)
    assert "Pipeline: Anna" in text and "Total: 2 · 300K ₽ · 110K ₽" in text
    assert "Set it in 📋 Plans." in text
    assert "👥 By manager" not in annas.last.button_labels()
    team = await helen.press("← Team")
    assert "Sales by manager" in team.text

    await helen.press("← Pipeline")
    by_line = await helen.press("📦 By product line")
    text = plain(by_line.text)
    assert "Boilers: 2 · 500K ₽ · 310K ₽" in text  # 10 000 + 300 000
    assert "Pumps: 1 · 200K ₽ · 100K ₽" in text


async def test_a_big_team_by_manager_comes_a_page_at_a_time(fake, bot, db, monkeypatch):
    """Every manager with open deals can be reached, whatever the team's size (pages of
    ROWS_MAX; one here, so that two managers make two pages)."""
    monkeypatch.setattr(pipeline, "ROWS_MAX", 1)
    _admin, anna, boris, _vera, helen = await sales_and_service(fake)
    a, b = [await add_client(db, p, f"Client of {p.first_name}") for p in (anna, boris)]
    await add_deal(db, anna, a, "A1", 100_000)
    await add_deal(db, boris, b, "B1", 400_000, DealStage.NEGOTIATION)
    await helen.tap("💼 Deals")

    first = await helen.press("👥 By manager")
    assert "Boris" in first.text and "Anna" not in first.text
    assert first.last.button_labels() == ["Boris", "1/2", "▶", "← Pipeline"]
    second = await helen.press("▶")
    assert "Anna: 1 · 100K ₽ · 10K ₽" in plain(second.text) and "Boris" not in second.text
    assert second.last.button_labels() == ["Anna", "◀", "2/2", "← Pipeline"]
    annas = await helen.press("Anna")
    assert "Pipeline: Anna" in plain(annas.text)
    sales = (await user_row(db, helen.id)).department_id
    past_the_end = PipelineCb(action=PipelineAction.OWNERS, department=sales, page=99)
    last = await helen.press_forged(past_the_end.pack())
    assert "Anna" in last.text and "Boris" not in last.text  # the last page


async def test_an_admin_sees_the_company_by_department(fake, bot, db):
    admin, anna, boris, vera, _helen = await sales_and_service(fake)
    pumps = await add_line(db, "Pumps")
    a, b, v = [await add_client(db, p, f"Client of {p.first_name}") for p in (anna, boris, vera)]
    await add_deal(db, anna, a, "A1", 100_000)
    await add_deal(db, anna, a, "A2", 200_000, DealStage.PROPOSAL, line_id=pumps)
    await add_deal(db, boris, b, "B1", 400_000, DealStage.NEGOTIATION)
    await add_deal(db, vera, v, "V1", 1_000_000, DealStage.QUALIFIED, line_id=pumps)
    await add_deal(db, vera, v, "V2", 20_000)

    # Company: 410 000 (Sales) + 250 000 + 2 000 (Service) = 662 000 weighted.
    reply = await admin.tap("💼 Deals")
    text = plain(reply.text)
    assert "Pipeline: Company" in text
    assert "Total: 5 · 1.7M ₽ · 662K ₽" in text
    assert "🏢 By department" in reply.last.button_labels()

    by_department = await admin.press("🏢 By department")
    text = plain(by_department.text)
    assert "Sales: 3 · 700K ₽ · 410K ₽" in text
    assert "Service: 2 · 1M ₽ · 252K ₽" in text
    assert by_department.last.button_labels() == ["Sales", "Service", "← Pipeline"]

    service = await admin.press("Service")
    text = plain(service.text)
    assert "Pipeline: Service" in text
    assert "Qualified, 25%: 1 · 1M ₽ · 250K ₽" in text
    assert "Total: 2 · 1M ₽ · 252K ₽" in text
    veras = await admin.press("👥 By manager")
    assert "Vera: 2 · 1M ₽ · 252K ₽" in plain(veras.text)
    vera_pipeline = await admin.press("Vera")
    assert "Pipeline: Vera" in vera_pipeline.text
    back = await admin.press("← Team")
    assert "Service by manager" in back.text

    await admin.press("← Pipeline")  # Service's pipeline
    departments = await admin.press("← Departments")
    assert "Company by department" in departments.text
    await admin.press("← Pipeline")
    lines = await admin.press("📦 By product line")
    text = plain(lines.text)
    assert "Pumps: 2 · 1.2M ₽ · 350K ₽" in text  # 100 000 + 250 000
    assert "No product line: 3 · 520K ₽ · 312K ₽" in text  # 10 000 + 300 000 + 2 000


async def test_changing_a_stage_chance_changes_the_weighted_sums(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    anna = await colleague_joins(fake, admin, 2001, "Anna")
    client = await add_client(db, anna, "Romashka LLC")
    await add_deal(db, anna, client, "Boiler", 100_000)
    await add_deal(db, anna, client, "Pumps", 200_000, DealStage.PROPOSAL)
    await add_deal(db, anna, client, "Valves", 50_000, DealStage.PROPOSAL)
    assert "Total: 3 · 350K ₽ · 135K ₽" in plain((await anna.tap("💼 Deals")).text)

    await admin.tap("🛠 Admin")
    stages = await admin.press("🎯 Deal stages")
    assert stages.last.button_labels() == [
        "New: 10%",
        "Qualified: 25%",
        "Proposal: 50%",
        "Negotiation: 75%",
        "← Back",
    ]
    question = await admin.press("Proposal: 50%")
    assert "Proposal: the chance now is 50%" in question.text
    wrong = await admin.send("150")
    assert "Type a whole number of per cent from 0 to 100." in wrong.text
    assert "Proposal: the chance now is 50%" in wrong.text  # asked again
    saved = await admin.send("60%")
    assert "Saved." in saved.text
    assert "Proposal: 60%" in saved.last.button_labels()

    # 10 000 + 250 000 × 60% = 160 000.
    text = plain((await anna.tap("💼 Deals")).text)
    assert "Proposal, 60%: 2 · 250K ₽ · 150K ₽" in text
    assert "Total: 3 · 350K ₽ · 160K ₽" in text

    # A manager cannot change a chance with forged data.
    forged = await anna.press_forged("stg:new")
    assert forged.callback_answer["text"] == "You don't have access to this."


async def test_the_admin_keeps_the_list_of_reasons_deals_are_lost(fake, bot, db):
    admin = await admin_joins(fake)
    await admin.tap("🛠 Admin")
    reasons = await admin.press("❌ Reasons deals are lost")
    assert "Reasons deals are lost" in reasons.text
    await admin.press("➕ Add")
    added = await admin.send("Too expensive")
    assert "Added “Too expensive”." in added.text
    listing = await admin.press("✅ Done")
    assert "Too expensive" in listing.last.button_labels()


async def test_forged_scopes_show_nothing(fake, bot, db):
    _admin, anna, boris, vera, helen = await sales_and_service(fake)
    await add_deal(db, boris, await add_client(db, boris, "Secret LLC"), "Secret", 999_000)
    await add_deal(db, vera, await add_client(db, vera, "Hidden LLC"), "Hidden", 888_000)
    ids = {p: await user_id(db, p) for p in (anna, boris, vera, helen)}
    sales = (await user_row(db, boris.id)).department_id
    service = (await user_row(db, vera.id)).department_id
    await anna.tap("💼 Deals")
    await helen.tap("💼 Deals")

    for action in PipelineAction:
        if action is PipelineAction.NEW:
            continue
        # A manager: another manager's pipeline, their department's, anyone's list.
        for forged in (
            PipelineCb(action=action, owner=ids[boris]),
            PipelineCb(action=action, owner=ids[helen]),
            PipelineCb(action=action, department=sales),
            PipelineCb(action=action, owner=10**9),
        ):
            assert leaked_nothing(await anna.press_forged(forged.pack())), forged
        # A head: another department, or a manager of another department.
        for forged in (
            PipelineCb(action=action, department=service),
            PipelineCb(action=action, owner=ids[vera]),
            PipelineCb(action=action, department=-1),
        ):
            assert leaked_nothing(await helen.press_forged(forged.pack())), forged

    # Their own pipeline by forged data is fine; a stage that is not open is refused.
    await anna.press("📋 Open deals")
    mine = await anna.press_forged(PipelineCb(action=PipelineAction.HOME).pack())
    assert "Pipeline: Anna" in mine.text
    closed = PipelineCb(action=PipelineAction.LIST, stage="won")
    assert "Secret" not in (await anna.press_forged(closed.pack())).text
    assert "Secret" not in "".join(m.content for m in anna.messages)
    assert "Hidden" not in "".join(m.content for m in helen.messages)
