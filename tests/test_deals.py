"""💼 Deals: a manager opens a deal in a few answers (amounts typed as people type them), moves
it through the stages from its card, wins or loses it, edits it and logs contacts about it;
double taps change nothing twice, other people's deals stay out of reach, heads hear of big
deals."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.keyboards.callbacks import (
    ClientAction,
    ClientCb,
    DealAction,
    DealCb,
)
from db.models import (
    Deal,
    DealStage,
    DealStageChange,
    Event,
    EventKind,
    Interaction,
    ReferenceItem,
    ReferenceKind,
)
from tests.conftest import Db
from tests.fake_telegram import FakeUser
from tests.stories import add_department, admin_joins, colleague_joins
from tests.test_contact_log import add_client, managers_join

MOSCOW = ZoneInfo("Europe/Moscow")
WHICH_CLIENT = "New deal. Which client?"
WHICH_LINE = "which product line?"
WHAT_DEAL = "what is the deal?"
AMOUNT = "The amount? Type it as you say it"
CLOSE = "When do you expect to close it?"
SUMMARY = "A short summary"
REVIEW = "Check and save"
NB = "\u00a0"  # between an amount and its currency sign
CHANGED = "This deal has just changed. Here is how it stands now."


# Helpers


async def add_items(db: Db, kind: ReferenceKind, *names: str) -> list[int]:
    async with db.session_factory() as session:
        items = [ReferenceItem(kind=kind, name=name) for name in names]
        session.add_all(items)
        await session.commit()
        return [item.id for item in items]


async def deals_of(db: Db) -> list[Deal]:
    return await db.all(select(Deal).order_by(Deal.id))


async def deal_row(db: Db, deal_id: int) -> Deal:
    return await db.scalar(select(Deal).where(Deal.id == deal_id))


async def changes_of(db: Db, deal_id: int) -> list[DealStageChange]:
    return await db.all(
        select(DealStageChange)
        .where(DealStageChange.deal_id == deal_id)
        .order_by(DealStageChange.id)
    )


async def events_of(db: Db) -> list[tuple[EventKind, int | None]]:
    rows = await db.all(select(Event).order_by(Event.id))
    return [(row.kind, row.deal_id) for row in rows]


async def start_new_deal(user: FakeUser):
    """💼 Deals → ➕ New deal."""
    await user.tap("💼 Deals")
    return await user.press("➕ New deal")


async def new_deal(
    user: FakeUser, client: str, title: str = "20 pumps", amount: str = "150000"
) -> None:
    """Client, title, amount; no close date, no summary; saved. No product lines exist."""
    await start_new_deal(user)
    await user.press(f"🏢 {client}")
    await user.send(title)
    await user.send(amount)
    await user.press("Skip ➡️")
    await user.press("Skip ➡️")
    reply = await user.press("💾 Save")
    assert reply.callback_answer["text"] == "Saved ✅"


async def open_deal(user: FakeUser, deal_id: int):
    return await user.press_forged(DealCb(action=DealAction.OPEN, deal_id=deal_id).pack())


# Creating


async def test_a_manager_opens_a_deal_from_the_pipeline_screen(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    romashka = await add_client(db, manager, "Romashka LLC")
    pumps, _valves = await add_items(db, ReferenceKind.PRODUCT_LINE, "Pumps", "Valves")

    reply = await start_new_deal(manager)
    assert WHICH_CLIENT in reply.text
    assert reply.last.button_labels() == ["🏢 Romashka LLC", "✖ Cancel"]
    reply = await manager.press("🏢 Romashka LLC")
    assert f"Romashka LLC: {WHICH_LINE}" in reply.text
    assert reply.last.button_labels() == ["Pumps", "Valves", "Skip ➡️", "← Back", "✖ Cancel"]
    reply = await manager.press("Pumps")
    assert f"Romashka LLC: {WHAT_DEAL}" in reply.text
    reply = await manager.send("20 pumps for the new plant")
    assert AMOUNT in reply.text and "in ₽ unless" in reply.text
    reply = await manager.send("1,5 млн")
    assert CLOSE in reply.text
    assert reply.last.button_labels() == [
        "In 2 weeks",
        "End of this month",
        "End of next month",
        "Skip ➡️",
        "← Back",
        "✖ Cancel",
    ]
    reply = await manager.send("31.12.2099")
    assert SUMMARY in reply.text
    reply = await manager.send("They need pumps <fast> & cheap")
    assert REVIEW in reply.text
    assert reply.last.text.splitlines()[1:] == [
        "Client: Romashka LLC",
        "Product line: Pumps",
        "Title: 20 pumps for the new plant",
        f"Amount: 1,500,000{NB}₽",
        "Expected close: 31 Dec 2099",
        "Summary: They need pumps <fast> & cheap",
    ]
    assert fake.calls_of("sendMessage")[-1].params.get("protect_content") is True
    assert reply.last.button_labels() == ["💾 Save", "← Back", "✖ Cancel"]

    reply = await manager.press("💾 Save")
    assert reply.callback_answer["text"] == "Saved ✅"
    [deal] = await deals_of(db)
    assert (deal.client_id, deal.product_line_id, deal.title) == (
        romashka,
        pumps,
        "20 pumps for the new plant",
    )
    assert (deal.amount_minor, deal.currency, deal.stage) == (150_000_000, "RUB", DealStage.NEW)
    assert (deal.expected_close_on, deal.summary) == (
        date(2099, 12, 31),
        "They need pumps <fast> & cheap",
    )
    card = reply.last.text
    assert card.startswith("Saved ✅\n\n💼 20 pumps for the new plant\n")
    for line in (
        "Client: Romashka LLC",
        "Owner: Manager 2001",
        "Product line: Pumps",
        f"Amount: 1,500,000{NB}₽",
        "Stage: New · 10%",
        "Expected close: 31 Dec 2099",
        "Summary: They need pumps <fast> & cheap",
    ):
        assert line in card.splitlines(), line
    assert reply.last.button_labels() == [
        "➡️ Qualified",
        "🔀 Stage",
        "🏆 Won",
        "✖ Lost",
        "✏️ Edit",
        "📝 Log contact",
        "🕘 History",
        "👤 Client",
        "← Deals",
    ]
    [created] = await changes_of(db, deal.id)
    assert (created.from_stage, created.to_stage, created.amount_minor) == (
        None,
        DealStage.NEW,
        150_000_000,
    )
    assert await events_of(db) == [(EventKind.DEAL_CREATED, deal.id)]
    assert await manager_state_is_clear(bot, manager)
    reply = await manager.press("← Deals")  # back to the pipeline the flow started from
    assert "Pipeline: " in reply.last.text and "➕ New deal" in reply.last.button_labels()


async def manager_state_is_clear(bot, user: FakeUser) -> bool:
    """Nothing is asked any more: a plain text goes to the menu's "I didn't get that"."""
    reply = await user.send("hello")
    return "I didn't get that" in reply.text


async def test_a_deal_from_the_client_card_skips_the_client_and_shows_on_the_card(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    romashka = await add_client(db, manager, "Romashka LLC")
    await manager.tap("👤 Clients")
    await manager.press_forged(ClientCb(action=ClientAction.OPEN, client_id=romashka).pack())

    reply = await manager.press("💼 Deals")
    assert reply.last.text == "💼 Deals: Romashka LLC (0)\nNo deals yet."
    assert reply.last.button_labels() == ["➕ New deal", "← Card"]
    reply = await manager.press("➕ New deal")  # no product lines yet: the title comes first
    assert f"Romashka LLC: {WHAT_DEAL}" in reply.text
    await manager.send("Service contract")
    await manager.send("2 500,50 ₽")
    await manager.press("Skip ➡️")
    await manager.press("Skip ➡️")
    reply = await manager.press("💾 Save")
    assert f"Amount: 2,500.50{NB}₽" in reply.last.text
    [deal] = await deals_of(db)
    assert (deal.client_id, deal.amount_minor, deal.product_line_id) == (romashka, 250_050, None)

    reply = await manager.press("👤 Client")
    assert f"💼 Open deals: 1 · 2,500.50{NB}₽" in reply.last.text.splitlines()
    reply = await manager.press("💼 Deals")
    assert reply.last.text == "💼 Deals: Romashka LLC (1)"
    assert reply.last.button_labels()[0] == f"New · Service contract · 2,500.50{NB}₽"
    reply = await manager.press(f"New · Service contract · 2,500.50{NB}₽")
    assert "💼 Service contract" in reply.last.text


async def test_amounts_typed_as_people_type_them_are_stored_exactly(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    await add_client(db, manager, "Romashka LLC")
    typed = {
        "150000": (15_000_000, "RUB"),
        "150 000": (15_000_000, "RUB"),
        "150k": (15_000_000, "RUB"),
        "1,5 млн": (150_000_000, "RUB"),
        "1.5m": (150_000_000, "RUB"),
        "2 500,50 ₽": (250_050, "RUB"),
        "5000 $": (500_000, "USD"),
    }
    for text in typed:
        await new_deal(manager, "Romashka LLC", title=f"Typed {text}", amount=text)
    stored = {deal.title: (deal.amount_minor, deal.currency) for deal in await deals_of(db)}
    assert stored == {f"Typed {text}": value for text, value in typed.items()}


async def test_bad_amounts_and_dates_get_the_question_again_and_keep_the_draft(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    await add_client(db, manager, "Romashka LLC")
    await start_new_deal(manager)
    await manager.press("🏢 Romashka LLC")
    await manager.send("20 pumps")

    for bad in ("lots", "150 рублей 50", "0", "1,50,0"):
        reply = await manager.send(bad)
        assert reply.messages[-1].text.startswith(AMOUNT), bad
        assert len(reply.messages) == 2, bad
    reply = await manager.send("lots")
    assert reply.messages[0].text.startswith("I couldn't read that amount.")
    reply = await manager.send("0")
    assert reply.messages[0].text == "The amount must be more than zero."

    await manager.send("150k")
    reply = await manager.send("someday")
    assert reply.messages[0].text.startswith("I couldn't read that date.")
    assert reply.messages[1].text.startswith(CLOSE)
    reply = await manager.send("01.01.2020")
    assert reply.messages[0].text.startswith("That time has already passed.")
    await manager.send("31.12.2099")
    reply = await manager.press("Skip ➡️")
    assert "Title: 20 pumps" in reply.last.text
    assert f"Amount: 150,000{NB}₽" in reply.last.text
    assert "Expected close: 31 Dec 2099" in reply.last.text
    await manager.press("💾 Save")
    [deal] = await deals_of(db)
    assert (deal.title, deal.amount_minor, deal.expected_close_on) == (
        "20 pumps",
        15_000_000,
        date(2099, 12, 31),
    )


async def test_back_steps_back_and_the_new_answer_wins(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    await add_client(db, manager, "Romashka LLC")
    await add_client(db, manager, "Vasilek JSC")
    await add_items(db, ReferenceKind.PRODUCT_LINE, "Pumps", "Valves")
    await start_new_deal(manager)
    await manager.press("🏢 Romashka LLC")
    await manager.press("Pumps")
    await manager.send("20 pumps")
    reply = await manager.press("← Back")  # at the amount: the title again
    assert WHAT_DEAL in reply.text
    reply = await manager.press("← Back")  # the product line
    assert WHICH_LINE in reply.text
    reply = await manager.press("← Back")  # the client
    assert WHICH_CLIENT in reply.text
    reply = await manager.send("vasil")  # typed search, as in the contact log
    assert "Found: 1." in reply.text
    await manager.press("🏢 Vasilek JSC")
    await manager.press("Skip ➡️")
    reply = await manager.send("30 valves")
    await manager.send("300k")
    await manager.press("End of next month")
    await manager.send("Summary one")
    reply = await manager.press("← Back")  # from the review: the summary
    assert SUMMARY in reply.text
    reply = await manager.send("Summary two")
    review = reply.last.text
    assert "Client: Vasilek JSC" in review and "Product line" not in review
    assert "Title: 30 valves" in review and "Summary: Summary two" in review
    await manager.press("💾 Save")
    [deal] = await deals_of(db)
    today = datetime.now(MOSCOW).date()
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    end_of_next_month = (next_month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    assert (deal.title, deal.amount_minor, deal.summary, deal.product_line_id) == (
        "30 valves",
        30_000_000,
        "Summary two",
        None,
    )
    assert deal.expected_close_on == end_of_next_month


async def test_a_restart_mid_flow_loses_nothing(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    await add_client(db, manager, "Romashka LLC")
    await start_new_deal(manager)
    await manager.press("🏢 Romashka LLC")
    await manager.send("20 pumps")
    await bot.restart()
    reply = await manager.send("150k")
    assert CLOSE in reply.text
    await bot.restart()
    reply = await manager.press("In 2 weeks")  # a button from before the restart
    assert SUMMARY in reply.text
    await bot.restart()
    await manager.press("Skip ➡️")
    await manager.press("💾 Save")
    [deal] = await deals_of(db)
    in_2_weeks = datetime.now(MOSCOW).date() + timedelta(days=14)
    assert (deal.title, deal.amount_minor, deal.expected_close_on) == (
        "20 pumps",
        15_000_000,
        in_2_weeks,
    )


async def test_a_client_with_a_critical_complaint_is_warned_about(fake, bot, db):
    from db.models import Complaint, ComplaintSeverity, ComplaintStatus
    from tests.stories import user_row

    (manager,) = await managers_join(fake, 2001)
    romashka = await add_client(db, manager, "Romashka LLC")
    await add_client(db, manager, "Vasilek JSC")
    reporter = await user_row(db, manager.id)
    async with db.session_factory() as session:
        session.add(
            Complaint(
                client_id=romashka,
                severity=ComplaintSeverity.CRITICAL,
                description="Pump broke",
                status=ComplaintStatus.OPEN,
                reporter_id=reporter.id,
                sla_due_at=bot.clock.now() + timedelta(hours=4),
            )
        )
        await session.commit()
    await start_new_deal(manager)
    reply = await manager.press("🏢 Romashka LLC")
    assert reply.messages[0].text.startswith("⚠️ This client has open critical complaints: 1.")
    assert WHAT_DEAL in reply.messages[1].text
    await manager.press("✖ Cancel")
    await start_new_deal(manager)
    reply = await manager.press("🏢 Vasilek JSC")
    assert "critical" not in reply.text


# The card: stages, won, lost


async def a_deal(fake, db, manager: FakeUser, amount: str = "150000") -> Deal:
    await add_client(db, manager, "Romashka LLC")
    await new_deal(manager, "Romashka LLC", amount=amount)
    return (await deals_of(db))[-1]


async def test_next_stage_and_any_stage_from_the_card(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    deal = await a_deal(fake, db, manager)

    reply = await manager.press("➡️ Qualified")
    assert reply.callback_answer["text"] == "Stage: Qualified"
    assert "Stage: Qualified · 25%" in reply.last.text
    assert reply.last.button_labels()[0] == "➡️ Proposal"
    reply = await manager.press("🔀 Stage")
    assert reply.last.button_labels() == [
        "New",
        "Proposal",
        "Negotiation",
        "Won",
        "Lost",
        "← Back",
    ]
    reply = await manager.press("Negotiation")
    assert "Stage: Negotiation · 75%" in reply.last.text
    assert reply.last.button_labels()[0] == "➡️ Won"
    reply = await manager.press("➡️ Won")  # the last open stage: next is won, with its amount
    assert "the final amount?" in reply.text

    row = await deal_row(db, deal.id)
    assert (row.stage, row.version, row.closed_at) == (DealStage.NEGOTIATION, 3, None)
    moves = [(c.from_stage, c.to_stage) for c in await changes_of(db, deal.id)]
    assert moves == [
        (None, DealStage.NEW),
        (DealStage.NEW, DealStage.QUALIFIED),
        (DealStage.QUALIFIED, DealStage.NEGOTIATION),
    ]


async def test_won_with_the_planned_amount_in_one_tap(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    deal = await a_deal(fake, db, manager)

    reply = await manager.press("🏆 Won")
    assert "🏆 20 pumps: the final amount?" in reply.text
    assert reply.last.button_labels() == [f"✅ 150,000{NB}₽", "✖ Cancel"]
    reply = await manager.press(f"✅ 150,000{NB}₽")
    card = reply.last.text
    assert card.startswith("🏆 Won!\n\n💼 20 pumps")
    assert "Stage: Won · 100%" in card and "Closed: " in card
    assert reply.last.button_labels() == ["🔀 Stage", "🕘 History", "👤 Client", "← Deals"]
    row = await deal_row(db, deal.id)
    assert (row.stage, row.amount_minor) == (DealStage.WON, 15_000_000)
    assert row.closed_at is not None
    last = (await changes_of(db, deal.id))[-1]
    assert (last.from_stage, last.to_stage, last.amount_minor) == (
        DealStage.NEW,
        DealStage.WON,
        15_000_000,
    )
    assert (EventKind.DEAL_WON, deal.id) in await events_of(db)


async def test_won_with_a_typed_final_amount(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    deal = await a_deal(fake, db, manager)

    await manager.press("🏆 Won")
    reply = await manager.send("5000 $")  # another currency than the deal's
    assert reply.messages[0].text == "This deal is in RUB: type the amount in it."
    reply = await manager.send("140k")
    assert f"Amount: 140,000{NB}₽" in reply.last.text
    row = await deal_row(db, deal.id)
    assert (row.stage, row.amount_minor) == (DealStage.WON, 14_000_000)
    changes = await changes_of(db, deal.id)
    assert [(c.to_stage, c.amount_minor) for c in changes] == [
        (DealStage.NEW, 15_000_000),
        (DealStage.WON, 14_000_000),
    ]
    assert await events_of(db) == [(EventKind.DEAL_CREATED, deal.id), (EventKind.DEAL_WON, deal.id)]


async def test_lost_with_a_reason_and_a_comment_then_reopened(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    price, _other = await add_items(db, ReferenceKind.LOST_REASON, "Too expensive", "No budget")
    deal = await a_deal(fake, db, manager)

    reply = await manager.press("✖ Lost")
    assert "20 pumps: why was it lost?" in reply.text
    assert reply.last.button_labels() == ["No budget", "Too expensive", "✖ Cancel"]
    reply = await manager.press("Too expensive")
    assert "A comment?" in reply.text
    reply = await manager.send("Chose <Vasilek> & Co")
    card = reply.last.text
    assert card.startswith("✖ Marked as lost.")
    assert "Reason lost: Too expensive" in card and "Comment: Chose <Vasilek> & Co" in card
    row = await deal_row(db, deal.id)
    assert (row.stage, row.lost_reason_id, row.lost_comment) == (
        DealStage.LOST,
        price,
        "Chose <Vasilek> & Co",
    )
    assert (EventKind.DEAL_LOST, deal.id) in await events_of(db)

    await manager.press("🔀 Stage")
    reply = await manager.press("Proposal")  # an open stage reopens it
    assert "Stage: Proposal · 50%" in reply.last.text and "Reason lost" not in reply.last.text
    row = await deal_row(db, deal.id)
    assert (row.stage, row.closed_at, row.lost_reason_id, row.lost_comment) == (
        DealStage.PROPOSAL,
        None,
        None,
        None,
    )
    assert [c.to_stage for c in await changes_of(db, deal.id)] == [
        DealStage.NEW,
        DealStage.LOST,
        DealStage.PROPOSAL,
    ]


async def test_lost_without_a_list_of_reasons_asks_only_the_comment(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    deal = await a_deal(fake, db, manager)
    reply = await manager.press("✖ Lost")
    assert "A comment?" in reply.text
    await manager.press("Skip ➡️")
    row = await deal_row(db, deal.id)
    assert (row.stage, row.lost_reason_id, row.lost_comment) == (DealStage.LOST, None, None)


# Double taps and races


async def test_a_double_tap_moves_a_deal_once(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    deal = await a_deal(fake, db, manager)
    card = manager.last
    next_button = card.button("➡️ Qualified")["callback_data"]
    won_button = card.button("🏆 Won")["callback_data"]

    await manager.press("➡️ Qualified")
    reply = await manager.press_forged(next_button)  # the same old button again
    assert reply.callback_answer["text"] == CHANGED
    assert "Stage: Qualified · 25%" in manager.last.text  # as the card already shows
    reply = await manager.press_forged(won_button)  # won from the card as it was
    assert reply.callback_answer["text"] == CHANGED
    assert [c.to_stage for c in await changes_of(db, deal.id)] == [
        DealStage.NEW,
        DealStage.QUALIFIED,
    ]
    row = await deal_row(db, deal.id)
    assert (row.stage, row.version) == (DealStage.QUALIFIED, 2)


async def test_a_second_won_confirmation_fails_cleanly(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    deal = await a_deal(fake, db, manager)
    card = manager.last
    await manager.press("🏆 Won")  # the question keeps the card's version
    await manager.press("➡️ Qualified", message=card)  # meanwhile the deal moves on
    reply = await manager.send("140k")
    assert reply.messages[0].text.startswith(CHANGED)
    assert "Stage: Qualified · 25%" in reply.messages[0].text
    row = await deal_row(db, deal.id)
    assert (row.stage, row.amount_minor) == (DealStage.QUALIFIED, 15_000_000)

    await manager.press("🏆 Won")
    won = manager.last
    planned = won.button(f"✅ 150,000{NB}₽")["callback_data"]
    await manager.press(f"✅ 150,000{NB}₽", message=won)
    reply = await manager.press_forged(planned, message=won)  # tapped again
    assert reply.callback_answer["text"] == "This button is no longer active."
    assert [c.to_stage for c in await changes_of(db, deal.id)] == [
        DealStage.NEW,
        DealStage.QUALIFIED,
        DealStage.WON,
    ]
    assert [kind for kind, _ in await events_of(db)].count(EventKind.DEAL_WON) == 1


# Edit, log contact, history


async def test_every_field_can_be_edited_from_the_card(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    _pumps, valves = await add_items(db, ReferenceKind.PRODUCT_LINE, "Pumps", "Valves")
    await add_client(db, manager, "Romashka LLC")
    await start_new_deal(manager)
    await manager.press("🏢 Romashka LLC")
    await manager.press("Pumps")
    await manager.send("20 pumps")
    await manager.send("150000")
    await manager.press("Skip ➡️")
    await manager.press("Skip ➡️")
    await manager.press("💾 Save")
    [deal] = await deals_of(db)

    reply = await manager.press("✏️ Edit")
    assert reply.last.button_labels() == [
        "Title",
        "Amount",
        "Product line",
        "Expected close",
        "Summary",
        "← Back",
    ]
    reply = await manager.press("Title")
    assert "Title now: 20 pumps\nSend the new title." in reply.text
    reply = await manager.send("30 pumps")
    assert reply.last.text.startswith("Saved.\n\n💼 30 pumps")

    await manager.press("✏️ Edit")
    await manager.press("Amount")
    reply = await manager.send("many")
    assert reply.messages[0].text.startswith("I couldn't read that amount.")
    assert "Amount now: " in reply.messages[1].text
    reply = await manager.send("2 000 $")
    assert "Amount: $2,000" in reply.last.text or f"Amount: 2,000{NB}$" in reply.last.text

    await manager.press("✏️ Edit")
    reply = await manager.press("Product line")
    assert "Product line now: Pumps" in reply.text
    reply = await manager.press("Valves")
    assert "Product line: Valves" in reply.last.text

    await manager.press("✏️ Edit")
    await manager.press("Expected close")
    reply = await manager.send("31.12.2099")
    assert "Expected close: 31 Dec 2099" in reply.last.text

    await manager.press("✏️ Edit")
    await manager.press("Summary")
    reply = await manager.send("Wants a discount")
    assert "Summary: Wants a discount" in reply.last.text

    row = await deal_row(db, deal.id)
    assert (row.title, row.amount_minor, row.currency, row.product_line_id) == (
        "30 pumps",
        200_000,
        "USD",
        valves,
    )
    assert (row.expected_close_on, row.summary, row.version) == (
        date(2099, 12, 31),
        "Wants a discount",
        6,
    )

    await manager.press("✏️ Edit")
    await manager.press("Expected close")
    await manager.press("➖ None")
    await manager.press("✏️ Edit")
    await manager.press("Summary")
    reply = await manager.press("➖ Clear")
    assert "Summary:" not in reply.last.text and "Expected close" not in reply.last.text
    row = await deal_row(db, deal.id)
    assert (row.expected_close_on, row.summary, row.stage) == (None, None, DealStage.NEW)
    assert len(await changes_of(db, deal.id)) == 1  # edits are not stage changes


async def test_a_contact_logged_from_the_card_belongs_to_the_deal(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    deal = await a_deal(fake, db, manager)
    long_ago = bot.clock.now() - timedelta(days=10)
    await db.execute(update(Deal).where(Deal.id == deal.id).values(last_activity_at=long_ago))

    reply = await manager.press("📝 Log contact")
    assert "Romashka LLC: what kind of contact?" in reply.text
    await manager.press("📞 Call")
    await manager.send("Talked about the discount")
    reply = await manager.press("💾 Save")
    assert reply.callback_answer["text"] == "Saved ✅"
    [contact] = await db.all(select(Interaction))
    assert (contact.deal_id, contact.summary) == (deal.id, "Talked about the discount")
    row = await deal_row(db, deal.id)
    assert row.last_activity_at > long_ago + timedelta(days=9)


async def test_the_history_shows_stage_changes_and_contacts(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    deal = await a_deal(fake, db, manager)
    await manager.press("➡️ Qualified")
    await manager.press("📝 Log contact")
    await manager.press("🤝 Meeting")
    await manager.send("Showed the <pumps>")
    await manager.press("💾 Save")
    await open_deal(manager, deal.id)
    await manager.press("🏆 Won")
    await manager.send("140k")

    reply = await manager.press("🕘 History")
    text = reply.last.text
    assert text.startswith("🕘 History: 20 pumps\n\nStages\n")
    lines = text.splitlines()
    assert lines[3].endswith(f" · Manager 2001: Qualified → Won · 140,000{NB}₽")
    assert lines[4].endswith(f" · Manager 2001: New → Qualified · 150,000{NB}₽")
    assert lines[5].endswith(f" · Manager 2001: created · New · 150,000{NB}₽")
    assert "Contacts about this deal" in text and "Showed the <pumps>" in text
    assert reply.last.button_labels() == ["← Deal"]
    reply = await manager.press("← Deal")
    assert "Stage: Won · 100%" in reply.last.text


async def test_stale_deals_are_flagged(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    deal = await a_deal(fake, db, manager)
    reply = await open_deal(manager, deal.id)
    assert "Stale" not in reply.last.text

    bot.clock.advance(days=15, hours=1)  # DEAL_STALE_DAYS is 14
    reply = await open_deal(manager, deal.id)
    assert "⏳ Stale: no activity for 15 days" in reply.last.text

    bot.clock.advance(days=-15, hours=-1)
    yesterday = datetime.now(MOSCOW).date() - timedelta(days=1)
    await db.execute(update(Deal).where(Deal.id == deal.id).values(expected_close_on=yesterday))
    reply = await open_deal(manager, deal.id)
    shown = f"{yesterday.day} {yesterday:%b} {yesterday.year}"
    assert f"Expected close: {shown} ⚠️ past" in reply.last.text
    assert "⏳ Stale: past its expected close date" in reply.last.text

    await manager.press("🏆 Won")
    reply = await manager.send("150000")
    assert "Stale" not in reply.last.text and "⚠️" not in reply.last.text


# Owners, heads, access


async def test_reassigning_a_client_moves_its_open_deals_but_not_the_won_ones(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    anna = await colleague_joins(fake, admin, 2001, "Anna")
    await colleague_joins(fake, admin, 2002, "Boris")
    romashka = await add_client(db, anna, "Romashka LLC")
    await new_deal(anna, "Romashka LLC", title="Open one")
    await new_deal(anna, "Romashka LLC", title="Won one")
    await anna.press("🏆 Won")
    await anna.send("100000")
    anna_id = (await deals_of(db))[0].owner_id

    await admin.tap("👤 Clients")
    await admin.press_forged(ClientCb(action=ClientAction.REASSIGN, client_id=romashka).pack())
    reply = await admin.press("Boris")
    assert "Owner: Boris" in reply.text
    open_one, won_one = await deals_of(db)
    assert open_one.owner_id != anna_id and won_one.owner_id == anna_id
    reply = await open_deal(admin, open_one.id)
    assert "Owner: Boris" in reply.last.text


async def test_big_deals_are_told_to_the_managers_head(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    helen = await colleague_joins(fake, admin, 3001, "Helen", role="head of department")
    anna = await colleague_joins(fake, admin, 2001, "Anna")
    await add_client(db, anna, "Romashka LLC")
    heard = len(helen.messages)

    await new_deal(anna, "Romashka LLC", title="Small one", amount="150000")
    await bot.sweep()
    assert len(helen.messages) == heard

    await new_deal(anna, "Romashka LLC", title="Big one", amount="1,5 млн")
    await bot.sweep()
    [opened] = helen.messages[heard:]
    assert opened.text.splitlines() == [
        "💼 A big deal is opened",
        f"Big one · 1,500,000{NB}₽",
        "Client: Romashka LLC",
        "Manager: Anna",
    ]
    await anna.press("🏆 Won")
    await anna.press(f"✅ 1,500,000{NB}₽")
    await bot.sweep()
    [_opened, won] = helen.messages[heard:]
    assert won.text.startswith("🏆 A big deal is won\nBig one")
    reply = await helen.press("💼 Open the deal", message=won)
    assert "💼 Big one" in reply.last.text and "Stage: Won · 100%" in reply.last.text


async def test_nobody_reaches_another_managers_deal(fake, bot, db):
    anna, boris = await managers_join(fake, 2001, 2002)
    deal = await a_deal(fake, db, boris)
    await add_items(db, ReferenceKind.LOST_REASON, "Too expensive")
    await anna.tap("👤 Clients")

    for action, value in (
        (DealAction.OPEN, ""),
        (DealAction.NEXT, ""),
        (DealAction.STAGES, ""),
        (DealAction.SET_STAGE, DealStage.PROPOSAL.value),
        (DealAction.SET_STAGE, DealStage.WON.value),
        (DealAction.WON, ""),
        (DealAction.LOST, ""),
        (DealAction.EDIT, ""),
        (DealAction.FIELD, "title"),
        (DealAction.HISTORY, ""),
        (DealAction.LOG, ""),
    ):
        data = DealCb(action=action, deal_id=deal.id, version=1, value=value).pack()
        reply = await anna.press_forged(data)
        assert reply.callback_answer["text"].startswith("Not found"), action
        assert "20 pumps" not in reply.text and "Romashka" not in reply.text, action
    reply = await anna.press_forged(
        ClientCb(action=ClientAction.DEALS, client_id=deal.client_id).pack()
    )
    assert reply.callback_answer["text"].startswith("Not found")
    reply = await anna.press_forged(
        ClientCb(action=ClientAction.NEW_DEAL, client_id=deal.client_id).pack()
    )
    assert reply.callback_answer["text"].startswith("Not found")
    assert await manager_state_is_clear(bot, anna)

    row = await deal_row(db, deal.id)
    assert (row.stage, row.version, row.title) == (DealStage.NEW, 1, "20 pumps")
    assert len(await changes_of(db, deal.id)) == 1
