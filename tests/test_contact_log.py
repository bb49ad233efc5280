"""📝 Log contact: a manager records a call, a meeting or a visit in a few taps, with an outcome,
a next step and files; the date is read in their time zone and echoed back unambiguously."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.keyboards.callbacks import ClientAction, ClientCb, PickCb
from bot.services.parsing import normalize_name, search_key
from db.models import Attachment, AttachmentKind, Client, ClientKind, Interaction, InteractionKind
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.stories import add_department, admin_joins, colleague_joins, user_row

MOSCOW = ZoneInfo("Europe/Moscow")
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")
WHAT_HAPPENED = "What happened? One line is enough."
WHEN = "When? Tap a day, or type a date and time"


# Helpers: the people, their clients, and what the database holds


async def managers_join(fake: FakeTelegram, *ids: int) -> list[FakeUser]:
    """An admin sets up a Sales department; each id joins it as a manager."""
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    return [await colleague_joins(fake, admin, i, f"Manager {i}") for i in ids]


async def add_client(
    db: Db,
    owner: FakeUser,
    name: str,
    *,
    latitude: float | None = None,
    longitude: float | None = None,
) -> int:
    owner_row = await user_row(db, owner.id)
    assert owner_row is not None
    async with db.session_factory() as session:
        client = Client(
            name=name,
            name_key=normalize_name(name),
            search_text=search_key(name),
            kind=ClientKind.COMPANY,
            owner_id=owner_row.id,
            latitude=latitude,
            longitude=longitude,
        )
        session.add(client)
        await session.commit()
        return client.id


async def interactions(db: Db) -> list[Interaction]:
    return await db.all(select(Interaction).order_by(Interaction.id))


async def attachments(db: Db) -> list[Attachment]:
    return await db.all(select(Attachment).order_by(Attachment.id))


async def client_row(db: Db, client_id: int) -> Client:
    return await db.scalar(select(Client).where(Client.id == client_id))


async def up_to_the_review(manager: FakeUser, client: str, summary: str, kind: str = "📞 Call"):
    await manager.tap("📝 Log contact")
    await manager.press(f"🏢 {client}")
    await manager.press(kind)
    return await manager.send(summary)


async def add_next_step(manager: FakeUser, what: str, when: str):
    await manager.press("📅 Next step")
    reply = await manager.send(what)
    assert WHEN in reply.last.text
    return await manager.send(when)


def local_moment(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


def local_today(zone: ZoneInfo) -> date:
    return datetime.now(zone).date()


def echo(moment: datetime, zone: ZoneInfo) -> str:
    """How an English-speaking user sees a date: "Fri 25 Dec 2026, 15:30"."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"


def next_christmas_afternoon(zone: ZoneInfo) -> datetime:
    """25.12 15:30 typed: the next such moment."""
    today = local_today(zone)
    moment = local_moment(date(today.year, 12, 25), 15, 30, zone)
    if moment <= datetime.now(UTC):
        moment = local_moment(date(today.year + 1, 12, 25), 15, 30, zone)
    return moment


# The stories


async def test_logging_a_call_for_a_recent_client_takes_four_taps_and_one_line(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    romashka = await add_client(db, manager, "Romashka LLC")
    await add_client(db, manager, "Vasilek JSC")

    reply = await manager.tap("📝 Log contact")  # 1
    assert "Which client?" in reply.text
    assert "type part of a name, phone or INN" in reply.text
    assert reply.last.button_labels()[:2] == ["🏢 Romashka LLC", "🏢 Vasilek JSC"]

    reply = await manager.press("🏢 Romashka LLC")  # 2
    assert "Romashka LLC: what kind of contact?" in reply.last.text
    assert reply.last.button_labels() == [
        "📞 Call",
        "🤝 Meeting",
        "🚗 Visit",
        "💬 Message",
        "✉️ E-mail",
        "← Back",
        "✖ Cancel",
    ]

    reply = await manager.press("📞 Call")  # 3
    assert WHAT_HAPPENED in reply.last.text

    reply = await manager.send("Asked for prices <b>for Q1</b> & delivery")  # one line
    review = reply.last
    assert "Check and save" in review.text
    assert "Client: Romashka LLC" in review.text
    assert "Kind: 📞 Call" in review.text
    assert "Summary: Asked for prices <b>for Q1</b> & delivery" in review.text
    assert review.button_labels() == [
        "💾 Save",
        "➕ Outcome",
        "📅 Next step",
        "← Back",
        "✖ Cancel",
    ]

    reply = await manager.press("💾 Save")  # 4
    assert reply.callback_answer["text"] == "Saved ✅"
    assert "Saved ✅" in reply.last.text
    assert reply.last.button_labels() == ["👤 Open the card"]
    assert not reply.errors

    [saved] = await interactions(db)
    author = await user_row(db, manager.id)
    assert (saved.client_id, saved.author_id, saved.kind) == (
        romashka,
        author.id,
        InteractionKind.CALL,
    )
    assert saved.summary == "Asked for prices <b>for Q1</b> & delivery"
    assert (saved.outcome, saved.next_step, saved.next_step_due_at) == (None, None, None)
    assert (await client_row(db, romashka)).last_contact_at is not None

    reply = await manager.send("Anything else")  # the flow is over
    assert "I didn't get that" in reply.text


async def test_outcome_and_next_step_from_a_quick_button(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    await add_client(db, manager, "Romashka LLC")
    await up_to_the_review(manager, "Romashka LLC", "Demo of the new line")

    reply = await manager.press("➕ Outcome")
    assert "What came of it?" in reply.last.text
    assert "Skip ➡️" in reply.last.button_labels()
    reply = await manager.send("Agreed on a trial order")
    assert "Outcome: Agreed on a trial order" in reply.last.text

    await manager.press("📅 Next step")
    reply = await manager.send("Send the offer")
    assert reply.last.button_labels() == [
        "Today",
        "Tomorrow",
        "In 3 days",
        "Next week",
        "← Back",
        "✖ Cancel",
    ]
    reply = await manager.press("Tomorrow")
    due = local_moment(local_today(MOSCOW) + timedelta(days=1), 9, 0, MOSCOW)
    assert f"Next step: Send the offer — {echo(due, MOSCOW)}" in reply.last.text

    await manager.press("💾 Save")
    [saved] = await interactions(db)
    assert saved.outcome == "Agreed on a trial order"
    assert saved.next_step == "Send the offer"
    assert saved.next_step_due_at == due


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("25.12 15:30", lambda: next_christmas_afternoon(MOSCOW)),
        ("завтра 10:00", lambda: local_moment(local_today(MOSCOW) + timedelta(1), 10, 0, MOSCOW)),
        ("tomorrow 10am", lambda: local_moment(local_today(MOSCOW) + timedelta(1), 10, 0, MOSCOW)),
    ],
)
async def test_a_typed_date_is_read_in_moscow_time(fake, bot, db, typed, expected):
    (manager,) = await managers_join(fake, 2001)
    await add_client(db, manager, "Romashka LLC")
    await up_to_the_review(manager, "Romashka LLC", "Called about the contract")

    reply = await add_next_step(manager, "Call back", typed)
    due = expected()
    assert f"Next step: Call back — {echo(due, MOSCOW)}" in reply.last.text
    await manager.press("💾 Save")

    [saved] = await interactions(db)
    assert saved.next_step_due_at == due


async def test_dates_follow_a_manager_who_moved_to_vladivostok(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    await add_client(db, manager, "Romashka LLC")
    await manager.tap("⚙️ Settings")
    await manager.press("🕒 Time zone")
    reply = await manager.send("Asia/Vladivostok")
    assert "Asia/Vladivostok" in reply.text
    tomorrow = local_today(VLADIVOSTOK) + timedelta(days=1)

    await up_to_the_review(manager, "Romashka LLC", "Called")
    reply = await add_next_step(manager, "Call back", "tomorrow 10am")
    ten_am = local_moment(tomorrow, 10, 0, VLADIVOSTOK)
    assert ten_am == datetime(tomorrow.year, tomorrow.month, tomorrow.day, 0, 0, tzinfo=UTC)
    assert f"— {echo(ten_am, VLADIVOSTOK)}" in reply.last.text
    await manager.press("💾 Save")

    await up_to_the_review(manager, "Romashka LLC", "Met at the fair", kind="🤝 Meeting")
    await add_next_step(manager, "Visit the warehouse", "через 3 дня")
    await manager.press("💾 Save")

    await up_to_the_review(manager, "Romashka LLC", "Sent the price list", kind="✉️ E-mail")
    await add_next_step(manager, "Check they got it", "in 2 hours")  # from the bot's clock
    await manager.press("💾 Save")

    first, second, third = await interactions(db)
    assert first.next_step_due_at == ten_am
    in_3_days = local_today(VLADIVOSTOK) + timedelta(days=3)
    assert second.next_step_due_at == local_moment(in_3_days, 9, 0, VLADIVOSTOK)
    assert (second.kind, third.kind) == (InteractionKind.MEETING, InteractionKind.EMAIL)
    assert third.next_step_due_at == bot.clock.now() + timedelta(hours=2)


async def test_a_bad_date_gets_the_same_question_and_keeps_what_was_typed(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    await add_client(db, manager, "Romashka LLC")
    await up_to_the_review(manager, "Romashka LLC", "Discussed the discount")
    await manager.press("➕ Outcome")
    await manager.send("They want 5%")

    reply = await add_next_step(manager, "Send the offer", "someday maybe")
    assert "I couldn't read that date." in reply.text
    assert WHEN in reply.last.text

    reply = await manager.send("01.01.2020")
    assert "That time has already passed." in reply.text
    assert WHEN in reply.last.text

    reply = await manager.send_sticker()
    assert "Please answer with a text message." in reply.text
    assert WHEN in reply.last.text

    reply = await manager.send("25.12 15:30")
    review = reply.last.text
    assert "Summary: Discussed the discount" in review
    assert "Outcome: They want 5%" in review
    due = next_christmas_afternoon(MOSCOW)
    assert f"Next step: Send the offer — {echo(due, MOSCOW)}" in review
    await manager.press("💾 Save")
    [saved] = await interactions(db)
    assert (saved.summary, saved.outcome, saved.next_step, saved.next_step_due_at) == (
        "Discussed the discount",
        "They want 5%",
        "Send the offer",
        due,
    )


async def test_a_voice_note_can_be_the_summary(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    await add_client(db, manager, "Romashka LLC")
    await manager.tap("📝 Log contact")
    await manager.press("🏢 Romashka LLC")
    await manager.press("🤝 Meeting")

    reply = await manager.send_voice()
    assert "Summary: 🎤 Voice note" in reply.last.text
    assert "📎 Files: 1" in reply.last.text
    await manager.press("💾 Save")

    [saved] = await interactions(db)
    assert (saved.kind, saved.summary) == (InteractionKind.MEETING, "🎤 Voice note")
    [voice] = await attachments(db)
    assert voice.kind is AttachmentKind.VOICE
    assert voice.file_id.startswith("FAKEVOICE")


async def test_photos_and_documents_are_attached_and_sent_again_from_the_card(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    romashka = await add_client(db, manager, "Romashka LLC")
    await manager.tap("📝 Log contact")
    await manager.press("🏢 Romashka LLC")
    await manager.press("🚗 Visit")

    reply = await manager.send_photo()  # no caption: attached, the question stays
    assert "📎 Attached. Files in this record: 1." in reply.text
    assert WHAT_HAPPENED in reply.last.text
    reply = await manager.send("Shelf photo taken, stock is low")
    assert "📎 Files: 1" in reply.last.text
    reply = await manager.send_document("offer.pdf")
    assert "📎 Attached. Files in this record: 2." in reply.text
    assert "📎 Files: 2" in reply.last.text
    reply = await manager.press("💾 Save")
    assert "📎 Files: 2" in reply.last.text

    photo, document = await attachments(db)
    assert photo.kind is AttachmentKind.PHOTO and photo.file_id.startswith("FAKEPHOTO")
    assert (document.kind, document.file_name) == (AttachmentKind.DOCUMENT, "offer.pdf")
    # The largest size of the photo is the one kept.
    sent_photo = next(m for m in fake._chats[manager.id].messages.values() if m.kind == "photo")
    assert photo.file_id == sent_photo.media[-1]["file_id"]

    reply = await manager.press("👤 Open the card")
    assert "Romashka LLC" in reply.last.text
    assert "📎 Files" in reply.last.button_labels()
    reply = await manager.press("📎 Files")
    resent = {(m.kind, m.file_id) for m in reply.messages}
    assert resent == {("photo", photo.file_id), ("document", document.file_id)}

    # The card's own "📝 Log contact" starts with the client already chosen.
    reply = await manager.press("📝 Log contact")
    assert "Romashka LLC: what kind of contact?" in reply.last.text
    await manager.press("💬 Message")
    await manager.send("Sent the photos to the buyer")
    await manager.press("💾 Save")
    saved = await interactions(db)
    assert [(i.client_id, i.kind) for i in saved] == [
        (romashka, InteractionKind.VISIT),
        (romashka, InteractionKind.MESSAGE),
    ]


async def test_sharing_a_location_logs_a_visit_at_the_nearest_client(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    near = await add_client(db, manager, "Near Shop", latitude=55.7520, longitude=37.6175)
    await add_client(db, manager, "Far Shop", latitude=59.9343, longitude=30.3351)
    await add_client(db, manager, "Middle Shop", latitude=55.80, longitude=37.70)
    new_place = await add_client(db, manager, "New Place")

    reply = await manager.share_location(55.7512, 37.6184)
    assert "Logging a visit. Which client?" in reply.text
    assert "nearest to this point" in reply.text
    assert reply.last.button_labels() == [
        "🏢 Near Shop",
        "🏢 Middle Shop",
        "🏢 Far Shop",
        "✖ Cancel",
    ]
    reply = await manager.press("🏢 Near Shop")  # the kind is known: straight to the summary
    assert "🚗 Visit · Near Shop" in reply.last.text
    assert WHAT_HAPPENED in reply.last.text
    reply = await manager.send("Checked the shelf")
    assert "📍 Location attached" in reply.last.text
    await manager.press("💾 Save")

    # A client with no place yet learns it from its first visit.
    reply = await manager.share_location(55.6000, 37.5000)
    reply = await manager.send("new pla")
    assert reply.last.button_labels() == ["🏢 New Place", "✖ Cancel"]
    await manager.press("🏢 New Place")
    await manager.send("First visit")
    await manager.press("💾 Save")

    first, second = await interactions(db)
    assert (first.client_id, first.kind) == (near, InteractionKind.VISIT)
    assert (first.latitude, first.longitude) == (55.7512, 37.6184)
    assert (second.client_id, second.latitude, second.longitude) == (new_place, 55.6, 37.5)
    near_row, place_row = await client_row(db, near), await client_row(db, new_place)
    assert (near_row.latitude, near_row.longitude) == (55.7520, 37.6175)  # kept
    assert (place_row.latitude, place_row.longitude) == (55.6, 37.5)


async def test_a_location_sent_during_the_flow_is_attached(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    await add_client(db, manager, "Romashka LLC")
    await up_to_the_review(manager, "Romashka LLC", "Met at their office", kind="🤝 Meeting")
    reply = await manager.share_location(55.70, 37.60)
    assert "📍 Location attached." in reply.text
    assert "Check and save" in reply.last.text
    await manager.press("💾 Save")
    [saved] = await interactions(db)
    assert (saved.kind, saved.latitude, saved.longitude) == (InteractionKind.MEETING, 55.7, 37.6)


async def test_finding_the_client_by_typing(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    await add_client(db, manager, "ООО «Ромашка»")
    await add_client(db, manager, "Vasilek JSC")
    await manager.tap("📝 Log contact")

    reply = await manager.send("Лютик")
    assert "No clients of yours match “Лютик”." in reply.text
    assert "Which client?" in reply.last.text

    reply = await manager.send("р")
    assert "Send at least two letters or three digits to search." in reply.text
    assert "Which client?" in reply.last.text

    reply = await manager.send("ромаш")
    assert reply.last.button_labels() == ["🏢 ООО «Ромашка»", "✖ Cancel"]
    reply = await manager.press("🏢 ООО «Ромашка»")
    assert "ООО «Ромашка»: what kind of contact?" in reply.last.text


async def test_unexpected_input_back_and_cancel(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    await add_client(db, manager, "Romashka LLC")
    await manager.tap("📝 Log contact")
    await manager.press("🏢 Romashka LLC")

    reply = await manager.send("call")  # typed where a button is expected
    assert "Please choose one of the buttons below." in reply.text
    assert "what kind of contact?" in reply.last.text
    await manager.press("📞 Call")

    reply = await manager.send_sticker()
    assert "Please answer with a text message." in reply.text
    assert WHAT_HAPPENED in reply.last.text

    reply = await manager.send("x" * 2001)
    assert "Too long: at most 2000 characters." in reply.text
    assert WHAT_HAPPENED in reply.last.text

    reply = await manager.press("← Back")
    assert "what kind of contact?" in reply.last.text
    await manager.press("💬 Message")
    reply = await manager.send("Wrote on WhatsApp")
    assert "Kind: 💬 Message" in reply.last.text

    reply = await manager.press("➕ Outcome")
    reply = await manager.press("← Back")
    assert "Check and save" in reply.last.text

    reply = await manager.press("✖ Cancel")
    assert "Cancelled." in reply.text
    assert await interactions(db) == []


async def test_a_restart_in_the_middle_loses_nothing(fake, bot, db):
    (manager,) = await managers_join(fake, 2001)
    await add_client(db, manager, "Romashka LLC")
    await manager.tap("📝 Log contact")
    await manager.press("🏢 Romashka LLC")
    await manager.press("🚗 Visit")
    await manager.send_photo()

    await bot.restart()

    reply = await manager.send("Delivered the samples")
    assert "📎 Files: 1" in reply.last.text
    await manager.press("📅 Next step")
    await manager.send("Collect feedback")

    await bot.restart()

    reply = await manager.press("Next week")
    assert "Next step: Collect feedback" in reply.last.text
    await manager.press("💾 Save")
    [saved] = await interactions(db)
    assert (saved.kind, saved.summary, saved.next_step) == (
        InteractionKind.VISIT,
        "Delivered the samples",
        "Collect feedback",
    )
    assert saved.next_step_due_at.astimezone(MOSCOW).weekday() == 0  # a Monday
    assert len(await attachments(db)) == 1


async def test_another_managers_client_stays_invisible_even_with_forged_buttons(fake, bot, db):
    anna, boris = await managers_join(fake, 2001, 2002)
    await add_client(db, anna, "Anna's Client")
    secret = await add_client(db, boris, "Boris Secret Co", latitude=55.75, longitude=37.61)

    reply = await anna.tap("📝 Log contact")
    assert "Boris Secret Co" not in str(reply.last.button_labels())
    reply = await anna.send("secret")
    assert "No clients of yours match" in reply.text

    reply = await anna.press_forged(PickCb(client_id=secret).pack())
    assert reply.callback_answer["text"].startswith("Not found")
    assert "Boris" not in reply.text and "Secret" not in reply.text

    reply = await anna.press_forged(ClientCb(action=ClientAction.LOG, client_id=secret).pack())
    assert reply.callback_answer["text"].startswith("Not found")
    assert "Secret" not in reply.text

    reply = await anna.share_location(55.75, 37.61)  # in the flow: attached, still hers only
    assert "Boris Secret Co" not in str(reply.last.button_labels())

    await anna.command("cancel")
    reply = await anna.share_location(55.75, 37.61)
    assert "Boris Secret Co" not in str(reply.last.button_labels())
    reply = await anna.press_forged(ClientCb(action=ClientAction.OPEN, client_id=secret).pack())
    assert reply.callback_answer["text"].startswith("Not found")
    assert await interactions(db) == []
