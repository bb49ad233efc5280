"""⚠️ Complaints, end to end through the fake Bot API: a sales manager logs a client's
complaint; the service head is told and assigns it; the assignee takes, comments and resolves
it; the owner manager and the reporter are told; one left too long escalates, once, also when
the bot was down at its due time. Every change is kept with who, when and why; a double tap
or a stale button changes nothing; nobody acts on a complaint outside their scope.

Time is the bot's FakeClock; `bot.sweep()` runs what the scheduler runs (escalation, the
messages events call for, delivery)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from bot.keyboards.callbacks import ComplaintAction, ComplaintCb, FormAction, FormCb
from bot.services import complaints, parsing
from bot.services.complaints import ComplaintDraft
from db.models import (
    Attachment,
    AttachmentKind,
    Client,
    Complaint,
    ComplaintChange,
    ComplaintSeverity,
    ComplaintStatus,
    ReferenceItem,
    ReferenceKind,
    User,
)
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, FakeUser, SentMessage
from tests.stories import add_department, admin_joins, colleague_joins, user_row
from tests.test_client_search import open_search

MOSCOW = ZoneInfo("Europe/Moscow")
PHONE = "+79123456789"
LEAK = "The pump <P-40> leaks & hums after two days"
CHANGED = "This complaint has just changed. Here is how it stands now."
NOT_NOW = "That can't be done with this complaint now."
NOT_FOUND = "Not found: it may have been deleted or archived."


# The company: Sales (Anna, Boris, their head Sofia), Service (head Hugo, Ivan, Jana)


@dataclass
class Company:
    admin: FakeUser
    anna: FakeUser
    boris: FakeUser
    sofia: FakeUser
    hugo: FakeUser
    ivan: FakeUser
    jana: FakeUser
    romashka: int  # Anna's client
    lilia: int  # Boris's client


async def company(fake: FakeTelegram, db: Db) -> Company:
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    await add_department(admin, "Service", kind="service")
    anna = await colleague_joins(fake, admin, 2001, "Anna")
    boris = await colleague_joins(fake, admin, 2002, "Boris")
    sofia = await colleague_joins(fake, admin, 2003, "Sofia", role="head of department")
    hugo = await colleague_joins(
        fake, admin, 3001, "Hugo", role="head of department", department="Service"
    )
    ivan = await colleague_joins(fake, admin, 3002, "Ivan", department="Service")
    jana = await colleague_joins(fake, admin, 3003, "Jana", department="Service")
    romashka = await add_client(db, anna, "Romashka", PHONE)
    lilia = await add_client(db, boris, "Lilia")
    return Company(admin, anna, boris, sofia, hugo, ivan, jana, romashka, lilia)


async def add_client(db: Db, owner: FakeUser, name: str, phone: str | None = None) -> int:
    row = await user_row(db, owner.id)
    assert row is not None
    await db.execute(
        insert(Client).values(
            name=name,
            name_key=parsing.normalize_name(name),
            search_text=parsing.search_key(name),
            kind="company",
            owner_id=row.id,
            phone=phone,
            phone_digits=parsing.phone_digits(phone) if phone else None,
        )
    )
    return await db.scalar(select(Client.id).where(Client.name == name))


async def add_product_line(db: Db, name: str) -> int:
    await db.execute(insert(ReferenceItem).values(kind=ReferenceKind.PRODUCT_LINE, name=name))
    return await db.scalar(select(ReferenceItem.id).where(ReferenceItem.name == name))


async def log_complaint(
    manager: FakeUser,
    client: str = "Romashka",
    *,
    category: str = "Quality",
    severity: str = "🟠 high",
    description: str = LEAK,
):
    """⚠️ Complaints → ➕ New complaint → client → category → severity → text → 💾 Save
    (no product lines yet: that step passes by)."""
    await manager.tap("⚠️ Complaints")
    await manager.press("➕ New complaint")
    await manager.press(f"🏢 {client}")
    await manager.press(category)
    await manager.press(severity)
    await manager.send(description)
    return await manager.press("💾 Save")


async def open_directly(
    db: Db, reporter: FakeUser, client_id: int, severity: ComplaintSeverity, now: datetime, bot
) -> int:
    """A complaint logged through the service, for stories about what happens after."""
    async with db.session_factory() as session:
        actor = await session.scalar(select(User).where(User.telegram_id == reporter.id))
        draft = ComplaintDraft(client_id=client_id, severity=severity, description="It broke")
        complaint = await complaints.open_complaint(session, actor, draft, bot.settings, now=now)
        return complaint.id


async def complaint_row(db: Db, complaint_id: int) -> Complaint:
    return await db.scalar(select(Complaint).where(Complaint.id == complaint_id))


async def changes_of(db: Db, complaint_id: int) -> list[ComplaintChange]:
    return await db.all(
        select(ComplaintChange)
        .where(ComplaintChange.complaint_id == complaint_id)
        .order_by(ComplaintChange.id)
    )


async def user_id(db: Db, person: FakeUser) -> int:
    row = await user_row(db, person.id)
    assert row is not None
    return row.id


def told(fake: FakeTelegram, person: FakeUser, words: str) -> list[SentMessage]:
    """Messages the bot sent the person on its own (outbox), as they arrived."""
    return [
        call.message
        for call in fake.calls_of("sendMessage", person.id)
        if call.ok and call.message is not None and words in call.message.content
    ]


def protected_calls(fake: FakeTelegram, person: FakeUser, words: str) -> list[bool]:
    return [
        call.params.get("protect_content") is True
        for call in fake.calls_of("sendMessage", person.id)
        if call.ok and call.message is not None and words in call.message.content
    ]


def protected(reply, words: str = "") -> bool:
    """The messages the bot sent while answering (those with these words) went out protected:
    client data can't be forwarded or saved."""
    sends = [
        c
        for c in reply.calls
        if c.ok and c.method.startswith("send") and c.message and words in c.message.content
    ]
    return bool(sends) and all(c.params.get("protect_content") is True for c in sends)


def when(moment: datetime) -> str:
    return parsing.format_when(moment, MOSCOW, "en")


def cb(action: ComplaintAction, complaint_id: int, version: int = 0, value: str = "") -> str:
    return ComplaintCb(
        action=action, complaint_id=complaint_id, version=version, value=value
    ).pack()


async def open_card(person: FakeUser, complaint_id: int):
    return await person.press_forged(cb(ComplaintAction.OPEN, complaint_id))


# The whole loop


async def test_the_whole_loop_from_a_complaint_to_its_resolution(fake, bot, db):
    c = await company(fake, db)
    now = bot.clock.now()

    # Anna logs a complaint on her client, with a photo (its caption is the description)
    # and a voice note.
    await c.anna.tap("⚠️ Complaints")
    reply = await c.anna.press("➕ New complaint")
    assert "Which client is complaining?" in reply.last.text
    assert reply.last.button_labels() == ["🏢 Romashka", "✖ Cancel"]  # her clients only
    reply = await c.anna.press("🏢 Romashka")
    assert "Romashka: what is the complaint about?" in reply.last.text
    assert reply.last.button_labels() == [
        "Billing",
        "Delivery",
        "Other",
        "Quality",
        "Service",
        "← Back",
        "✖ Cancel",
    ]
    await c.anna.press("Quality")
    reply = await c.anna.press("🟠 high")
    assert "What is the client unhappy about?" in reply.last.text  # no product lines: passed by
    reply = await c.anna.send_photo(caption=LEAK)
    assert "Check and save the complaint" in reply.last.text
    reply = await c.anna.send_voice()
    assert "📎 Attached. Files in this complaint: 2." in reply.text
    assert "📎 Files: 2" in reply.last.text
    assert LEAK in reply.last.text
    assert protected(reply, "Check and save")
    reply = await c.anna.press("💾 Save")
    due = now + timedelta(hours=24)
    assert "Complaint #1 is logged. The service department is told." in reply.last.text
    assert f"To be resolved by {when(due)}." in reply.last.text

    complaint = await complaint_row(db, 1)
    assert complaint.severity is ComplaintSeverity.HIGH
    assert complaint.status is ComplaintStatus.OPEN
    assert complaint.description == LEAK
    assert complaint.reporter_id == await user_id(db, c.anna)
    assert complaint.sla_due_at == due
    files = await db.all(select(Attachment).where(Attachment.complaint_id == 1))
    assert [f.kind for f in files] == [AttachmentKind.PHOTO, AttachmentKind.VOICE]

    # The service head and the admin are told at once with client, severity and description.
    await bot.sweep()
    for person in (c.hugo, c.admin):
        (note,) = told(fake, person, "⚠️ New complaint")
        assert "🟠 Complaint #1 · high" in note.content
        assert "Client: Romashka" in note.content
        assert "Category: Quality" in note.content
        assert LEAK in note.content
        assert "&lt;P-40&gt;" in (note.html or "")
        assert all(protected_calls(fake, person, "⚠️ New complaint"))
    assert told(fake, c.ivan, "⚠️ New complaint") == []
    assert told(fake, c.anna, "⚠️ New complaint") == []  # she logged it herself

    # Hugo opens it from the notification and assigns it to Ivan.
    reply = await c.hugo.press("⚠️ Open the complaint")
    card = reply.last
    assert "Complaint #1" in card.text and "open" in card.text
    assert f"Client: Romashka, {PHONE}" in card.text
    assert "Manager: Anna" in card.text
    assert "Assignee: nobody yet" in card.text
    assert f"To be resolved by {when(due)}" in card.text
    assert "📎 Files: 2" in card.text
    assert "👤 Assign" in card.button_labels() and "⛔ Reject" in card.button_labels()
    reply = await c.hugo.press("👤 Assign")
    assert reply.last.button_labels() == ["Hugo", "Ivan", "Jana", "← Complaint"]
    reply = await c.hugo.press("Ivan")
    assert reply.callback_answer["text"] == "👤 Assigned to Ivan."
    assert "Assignee: Ivan" in reply.last.text
    assert (await complaint_row(db, 1)).assignee_id == await user_id(db, c.ivan)

    await bot.sweep()
    (note,) = told(fake, c.ivan, "A complaint is assigned to you")
    assert "Complaint #1" in note.content and LEAK in note.content
    assert len(told(fake, c.anna, "Complaint assigned to Ivan")) == 1

    # Ivan sees it under his complaints, takes it; Anna is told of the status change.
    reply = await c.ivan.tap("⚠️ Complaints")
    assert "Complaints · 📥 Mine and the queue" in reply.last.text
    assert reply.last.button_labels() == ["🟠 #1 Romashka · 0 h", "➕ New complaint"]
    reply = await c.ivan.press("🟠 #1 Romashka · 0 h")
    assert reply.last.button_labels()[:3] == ["▶️ Take", "✅ Resolve", "💬 Comment"]
    assert "👤 Assign" not in reply.last.button_labels()
    reply = await c.ivan.press("▶️ Take")
    assert "in progress" in reply.last.text
    assert "▶️ Take" not in reply.last.button_labels()
    await bot.sweep()
    (note,) = told(fake, c.anna, "Complaint status: in progress")
    assert "Client: Romashka" in note.content

    # A comment goes into the history; then the resolution.
    await c.ivan.press("💬 Comment")
    reply = await c.ivan.send("Called them, visiting tomorrow")
    assert "💬 Comment added." in reply.last.text
    reply = await c.ivan.press("✅ Resolve")
    assert "What was done?" in reply.last.text
    reply = await c.ivan.send("Replaced the seal; the pump is quiet")
    assert "✅ Resolved." in reply.last.text
    assert "Resolution: Replaced the seal; the pump is quiet" in reply.last.text
    complaint = await complaint_row(db, 1)
    assert complaint.status is ComplaintStatus.RESOLVED
    assert complaint.resolution == "Replaced the seal; the pump is quiet"
    assert complaint.resolved_at == now

    await bot.sweep()
    (note,) = told(fake, c.anna, "Complaint resolved")  # the owner, and the reporter: once
    assert "Resolution: Replaced the seal; the pump is quiet" in note.content
    assert told(fake, c.ivan, "Complaint resolved") == []

    # The history: who did what, when, with the comments.
    reply = await c.ivan.press("🕘 History")
    stamp = when(now)
    assert reply.last.text.splitlines() == [
        "🕘 History of complaint #1",
        "",
        f"{stamp} · Anna: opened the complaint",
        "",
        f"{stamp} · Hugo: assigned it to Ivan",
        "",
        f"{stamp} · Ivan: status: in progress",
        "",
        f"{stamp} · Ivan: 💬 commented",
        "Called them, visiting tomorrow",
        "",
        f"{stamp} · Ivan: status: resolved",
        "Replaced the seal; the pump is quiet",
    ]

    # Hugo closes it; the files are there for anyone who sees it.
    reply = await c.hugo.press_forged(cb(ComplaintAction.OPEN, 1, value="e"))
    reply = await c.hugo.press("🔒 Close")
    assert reply.callback_answer["text"] == "🔒 Closed."
    assert (await complaint_row(db, 1)).status is ComplaintStatus.CLOSED
    reply = await c.anna.press_forged(cb(ComplaintAction.FILES, 1))
    assert [m.kind for m in reply.messages] == ["photo", "voice"]
    assert protected(reply)


async def test_a_reporter_who_does_not_own_the_client_is_told_of_the_resolution(fake, bot, db):
    c = await company(fake, db)
    # Sofia, the head of sales, finds Anna's client by typing part of its name.
    await c.sofia.tap("⚠️ Complaints")
    reply = await c.sofia.press("➕ New complaint")
    assert "Type part of the client's name, phone or INN." in reply.last.text
    reply = await c.sofia.send("roma")
    assert "Found: 1." in reply.last.text
    await c.sofia.press("🏢 Romashka")
    await c.sofia.press("Delivery")
    await c.sofia.press("🟡 medium")
    await c.sofia.send("The order came a week late")
    await c.sofia.press("💾 Save")
    await bot.sweep()
    (note,) = told(fake, c.anna, "⚠️ New complaint")  # the owner is never caught unaware
    assert "Reported by Sofia" in note.content

    await open_card(c.ivan, 1)
    await c.ivan.press("✅ Resolve")
    await c.ivan.send("Apologised; a discount on the next order")
    await bot.sweep()
    for person in (c.anna, c.sofia):
        (note,) = told(fake, person, "Complaint resolved")
        assert "Resolution: Apologised; a discount on the next order" in note.content
    complaint = await complaint_row(db, 1)
    assert complaint.assignee_id == await user_id(db, c.ivan)  # resolved from the queue


async def test_an_overdue_complaint_escalates_once_also_after_downtime(fake, bot, db):
    c = await company(fake, db)
    start = bot.clock.now()
    await log_complaint(c.anna, severity="🟠 high")
    await open_directly(db, c.anna, c.romashka, ComplaintSeverity.HIGH, start, bot)  # #2
    await bot.sweep()

    # Hugo makes #1 critical: it is due 4 hours after it was logged, not 24.
    await c.hugo.press("⚠️ Open the complaint", message=told(fake, c.hugo, "#1")[0])
    reply = await c.hugo.press("🎚 Severity")
    assert reply.last.button_labels() == ["🔴 critical", "🟡 medium", "⚪ low", "← Complaint"]
    reply = await c.hugo.press("🔴 critical")
    due = start + timedelta(hours=4)
    assert reply.callback_answer["text"] == f"Severity: critical; to be resolved by {when(due)}."
    assert f"To be resolved by {when(due)}" in reply.last.text
    assert (await complaint_row(db, 1)).sla_due_at == due
    await bot.sweep()
    (note,) = told(fake, c.anna, "Severity changed to critical")
    assert f"To be resolved by {when(due)}." in note.content

    # The bot is down when it falls due; on start the head and the admin are told, once.
    await bot.stop()
    bot.clock.set(due + timedelta(minutes=5))
    await bot.start()
    for person in (c.hugo, c.admin):
        (note,) = told(fake, person, "Complaint overdue")
        assert "🔴 Complaint #1 · critical" in note.content
        assert f"it was to be resolved by {when(due)}" in note.content
        assert "Status: open · assignee: nobody yet" in note.content
    assert told(fake, c.anna, "Complaint overdue") == []
    complaint = await complaint_row(db, 1)
    assert complaint.escalated_at == due + timedelta(minutes=5)
    for _ in range(3):
        bot.clock.advance(hours=1)
        await bot.sweep()
    await bot.restart()
    assert len(told(fake, c.hugo, "Complaint overdue")) == 1
    assert len(told(fake, c.admin, "Complaint overdue")) == 1
    escalations = [ch for ch in await changes_of(db, 1) if ch.kind == "escalated"]
    assert len(escalations) == 1

    # It shows as overdue on the card and first in the list.
    reply = await open_card(c.hugo, 1)
    assert f"⏰ OVERDUE: it was to be resolved by {when(due)}" in reply.last.text
    reply = await c.hugo.tap("⚠️ Complaints")
    assert reply.last.button_labels()[:2] == ["⏰🔴 #1 Romashka · 7 h", "🟠 #2 Romashka · 7 h"]
    assert "1. ⏰🔴 #1 Romashka · Quality · 7 h · open" in reply.last.text

    # #2 (high) falls due a day after it was logged: only the head is told.
    bot.clock.set(start + timedelta(hours=24, minutes=1))
    await bot.sweep()
    assert len(told(fake, c.hugo, "Complaint overdue")) == 2
    assert len(told(fake, c.admin, "Complaint overdue")) == 1
    assert len(told(fake, c.hugo, "#1 · critical")) == 2  # the new one, and the one escalation


async def test_a_severity_change_counts_the_sla_again(fake, bot, db):
    c = await company(fake, db)
    start = bot.clock.now()
    await open_directly(db, c.anna, c.romashka, ComplaintSeverity.LOW, start, bot)
    assert (await complaint_row(db, 1)).sla_due_at == start + timedelta(hours=168)
    bot.clock.advance(hours=2)
    await open_card(c.hugo, 1)
    await c.hugo.press("🎚 Severity")
    reply = await c.hugo.press("🟡 medium")
    due = start + timedelta(hours=72)  # from when it was logged
    assert f"To be resolved by {when(due)}" in reply.last.text
    complaint = await complaint_row(db, 1)
    assert (complaint.severity, complaint.sla_due_at, complaint.version) == (
        ComplaintSeverity.MEDIUM,
        due,
        2,
    )
    reply = await c.hugo.press("🕘 History")
    assert f"{when(start + timedelta(hours=2))} · Hugo: severity: medium" in reply.last.text


async def test_new_complaints_are_assigned_in_turn_when_the_setting_says_so(fake, bot, db):
    bot.settings = bot.settings.model_copy(update={"complaint_auto_assign": True})
    await bot.restart()
    c = await company(fake, db)
    for severity in ("🟠 high", "🟡 medium", "⚪ low"):
        await log_complaint(c.anna, severity=severity)
    ivan, jana = await user_id(db, c.ivan), await user_id(db, c.jana)
    rows = await db.all(select(Complaint).order_by(Complaint.id))
    assert [row.assignee_id for row in rows] == [ivan, jana, ivan]

    await bot.sweep()
    assert len(told(fake, c.ivan, "A complaint is assigned to you")) == 2
    assert len(told(fake, c.jana, "A complaint is assigned to you")) == 1
    reply = await c.ivan.tap("⚠️ Complaints")
    assert reply.last.button_labels() == [
        "🟠 #1 Romashka · 0 h",
        "⚪ #3 Romashka · 0 h",
        "➕ New complaint",
    ]

    # Ivan asks to reassign #3; Hugo is told why and gives it to Jana.
    await c.ivan.press("⚪ #3 Romashka · 0 h")
    reply = await c.ivan.press("🔁 Ask to reassign")
    assert "Why should someone else take it?" in reply.last.text
    reply = await c.ivan.send("I'm on leave from tomorrow")
    assert "The head of service is asked to reassign it." in reply.last.text
    await bot.sweep()
    (note,) = told(fake, c.hugo, "Ivan asks to reassign a complaint")
    assert "I'm on leave from tomorrow" in note.content
    await c.hugo.press("⚠️ Open the complaint", message=note)
    reply = await c.hugo.press("👤 Assign")
    assert reply.last.button_labels() == ["Hugo", "✓ Ivan", "Jana", "← Complaint"]
    await c.hugo.press("Jana")
    assert (await complaint_row(db, 3)).assignee_id == jana
    await bot.sweep()
    assert len(told(fake, c.jana, "A complaint is assigned to you")) == 2

    # Jana asks too, without a reason.
    await open_card(c.jana, 3)
    await c.jana.press("🔁 Ask to reassign")
    reply = await c.jana.press("Skip ➡️")
    assert "The head of service is asked to reassign it." in reply.last.text
    await bot.sweep()
    (note,) = told(fake, c.hugo, "Jana asks to reassign a complaint")
    assert note.content.splitlines()[-1] == "Category: Quality"  # no reason given
    reasons = [ch.comment for ch in await changes_of(db, 3) if ch.kind == "reassign_asked"]
    assert reasons == ["I'm on leave from tomorrow", None]


async def test_the_owner_reopens_a_resolved_complaint_within_the_window_only(fake, bot, db):
    c = await company(fake, db)
    await open_directly(db, c.anna, c.romashka, ComplaintSeverity.HIGH, bot.clock.now(), bot)
    await open_card(c.ivan, 1)
    await c.ivan.press("▶️ Take")
    await c.ivan.press("✅ Resolve")
    await c.ivan.send("Replaced the seal")
    await bot.sweep()

    # Three days on the client calls again: Anna reopens it from the notification.
    bot.clock.advance(days=3)
    reply = await c.anna.press("⚠️ Open the complaint", message=told(fake, c.anna, "resolved")[0])
    assert "↩️ Reopen" in reply.last.button_labels()
    assert "Resolution: Replaced the seal" in reply.last.text
    reply = await c.anna.press("↩️ Reopen")
    assert "Why reopen it?" in reply.last.text
    reply = await c.anna.send("Still leaking")
    assert "↩️ Reopened: it is back with the service department." in reply.last.text
    complaint = await complaint_row(db, 1)
    assert complaint.status is ComplaintStatus.IN_PROGRESS
    assert complaint.resolved_at is None
    assert complaint.sla_due_at == bot.clock.now() + timedelta(hours=24)  # a fresh SLA
    await bot.sweep()
    (note,) = told(fake, c.ivan, "Complaint status: in progress")
    assert "Still leaking" in note.content

    # Boris, who doesn't own the client, can't see it, let alone reopen it.
    reply = await c.boris.press_forged(cb(ComplaintAction.REOPEN, 1, complaint.version))
    assert reply.callback_answer["text"] == NOT_FOUND

    # Resolved again; the window is COMPLAINT_REOPEN_DAYS (14) from the resolution.
    await open_card(c.ivan, 1)
    await c.ivan.press("✅ Resolve")
    await c.ivan.send("New pump installed")
    resolved = await complaint_row(db, 1)
    bot.clock.advance(days=13)
    await open_card(c.anna, 1)
    await c.anna.press("↩️ Reopen")  # asked on day 13 ...
    bot.clock.advance(days=2)
    reply = await c.anna.send("It hums")  # ... answered on day 15
    assert "It was resolved more than 14 days ago: log a new complaint instead." in reply.last.text
    assert "↩️ Reopen" not in reply.last.button_labels()
    reply = await c.anna.press_forged(cb(ComplaintAction.REOPEN, 1, resolved.version))
    assert reply.callback_answer["text"] == NOT_NOW
    assert (await complaint_row(db, 1)).status is ComplaintStatus.RESOLVED


async def test_the_head_rejects_a_complaint_with_a_reason(fake, bot, db):
    c = await company(fake, db)
    await log_complaint(c.anna)
    await bot.sweep()
    await c.hugo.press("⚠️ Open the complaint")
    reply = await c.hugo.press("⛔ Reject")
    question = "Why is it rejected?"
    assert question in reply.last.text
    reply = await c.hugo.send_sticker()
    assert "Please answer with a text message." in reply.text
    assert question in reply.last.text
    reply = await c.hugo.send("Not our pump: bought elsewhere")
    assert "⛔ Rejected. The client's manager is told why." in reply.last.text
    assert "rejected" in reply.last.text
    assert reply.last.button_labels() == ["💬 Comment", "🕘 History", "← List"]
    complaint = await complaint_row(db, 1)
    assert complaint.status is ComplaintStatus.REJECTED
    assert complaint.closed_at == bot.clock.now()
    last = (await changes_of(db, 1))[-1]
    assert (last.to_status, last.comment) == (
        ComplaintStatus.REJECTED,
        "Not our pump: bought elsewhere",
    )
    await bot.sweep()
    (note,) = told(fake, c.anna, "Complaint status: rejected")
    assert "Not our pump: bought elsewhere" in note.content
    reply = await c.anna.press("⚠️ Open the complaint", message=note)
    assert "↩️ Reopen" not in reply.last.button_labels()  # only resolved ones come back
    reply = await c.hugo.tap("⚠️ Complaints")
    assert "No open complaints here." in reply.last.text


async def test_a_double_tap_changes_a_complaint_once(fake, bot, db):
    c = await company(fake, db)
    number = await open_directly(
        db, c.anna, c.romashka, ComplaintSeverity.HIGH, bot.clock.now(), bot
    )

    # Two taps on 👤 Ivan before the first is answered.
    await open_card(c.hugo, number)
    await c.hugo.press("👤 Assign")
    first, second = await asyncio.gather(c.hugo.press("Ivan"), c.hugo.press("Ivan"))
    answers = sorted([first.callback_answer["text"], second.callback_answer["text"]])
    assert answers == sorted(["👤 Assigned to Ivan.", CHANGED])

    # Two taps on ▶️ Take; then the old button pressed again later.
    card = (await open_card(c.ivan, number)).last
    take = card.button("▶️ Take")["callback_data"]
    first, second = await asyncio.gather(c.ivan.press("▶️ Take"), c.ivan.press("▶️ Take"))
    answers = sorted([first.callback_answer["text"], second.callback_answer["text"]])
    assert answers == sorted(["▶️ It's yours: in progress.", CHANGED])
    reply = await c.ivan.press_forged(take, message=card)
    assert reply.callback_answer["text"] == CHANGED
    assert "· in progress" in c.ivan.last.text  # the card as it stands (already shown)

    # ✅ Resolve pressed twice asks twice; the answer resolves it once.
    resolve = card.button("✅ Resolve")["callback_data"]  # the version before taking
    await c.ivan.press("✅ Resolve")
    await c.ivan.press("✅ Resolve")
    await c.ivan.send("Seal replaced")
    reply = await c.ivan.send("Seal replaced")  # the second answer has no question left
    assert "I didn't get that" in reply.text
    reply = await c.ivan.press_forged(resolve, message=card)
    assert reply.callback_answer["text"] == CHANGED
    current = await complaint_row(db, number)
    reply = await c.ivan.press_forged(cb(ComplaintAction.RESOLVE, number, current.version))
    assert reply.callback_answer["text"] == NOT_NOW

    kinds = [(ch.kind, ch.to_status) for ch in await changes_of(db, number)]
    assert kinds == [
        ("opened", ComplaintStatus.OPEN),
        ("assigned", None),
        ("status", ComplaintStatus.IN_PROGRESS),
        ("status", ComplaintStatus.RESOLVED),
    ]
    assert current.version == 4
    await bot.sweep()
    assert len(told(fake, c.ivan, "A complaint is assigned to you")) == 1
    assert len(told(fake, c.anna, "Complaint status: in progress")) == 1
    assert len(told(fake, c.anna, "Complaint resolved")) == 1


async def test_nobody_acts_on_a_complaint_outside_their_scope(fake, bot, db):
    c = await company(fake, db)
    await add_department(c.admin, "Service West", kind="service")
    wera = await colleague_joins(fake, c.admin, 3101, "Wera", department="Service West")
    await open_directly(db, c.anna, c.romashka, ComplaintSeverity.HIGH, bot.clock.now(), bot)
    ivan, jana = await user_id(db, c.ivan), await user_id(db, c.jana)

    # Another manager's client; a service person of another department: not found.
    for outsider in (c.boris, wera):
        for action in (
            ComplaintAction.OPEN,
            ComplaintAction.TAKE,
            ComplaintAction.RESOLVE,
            ComplaintAction.COMMENT,
            ComplaintAction.HISTORY,
            ComplaintAction.FILES,
        ):
            reply = await outsider.press_forged(cb(action, 1, 1))
            assert reply.callback_answer["text"] == NOT_FOUND, (outsider, action)
        reply = await outsider.tap("⚠️ Complaints")
        assert "No open complaints here." in reply.last.text

    # Anna sees her client's complaint but does not run the queue.
    for data in (
        cb(ComplaintAction.ASSIGN, 1, 1),
        cb(ComplaintAction.ASSIGN, 1, 1, str(ivan)),
        cb(ComplaintAction.SEVERITY, 1, 1, "critical"),
        cb(ComplaintAction.REJECT, 1, 1),
        cb(ComplaintAction.TAKE, 1, 1),
    ):
        reply = await c.anna.press_forged(data)
        assert reply.callback_answer["text"] == NOT_NOW, data
    reply = await c.anna.press_forged(cb(ComplaintAction.LIST, 0, value="q"))
    assert reply.callback_answer["text"] == NOT_FOUND
    # A service person can't assign either, nor to someone outside the queue.
    reply = await c.ivan.press_forged(cb(ComplaintAction.ASSIGN, 1, 1, str(jana)))
    assert reply.callback_answer["text"] == NOT_NOW
    wera_id = await user_id(db, wera)
    reply = await c.hugo.press_forged(cb(ComplaintAction.ASSIGN, 1, 1, str(wera_id)))
    assert reply.callback_answer["text"] == NOT_FOUND

    complaint = await complaint_row(db, 1)
    assert (complaint.status, complaint.assignee_id, complaint.version) == (
        ComplaintStatus.OPEN,
        None,
        1,
    )
    assert complaint.severity is ComplaintSeverity.HIGH
    assert len(await changes_of(db, 1)) == 1


async def test_bad_input_gets_a_message_and_the_same_question(fake, bot, db):
    c = await company(fake, db)
    await c.anna.tap("⚠️ Complaints")
    await c.anna.press("➕ New complaint")
    reply = await c.anna.send_sticker()
    assert "Please answer with a text message." in reply.text
    assert "Which client is complaining?" in reply.last.text
    reply = await c.anna.send("Nobody Ltd")
    assert "No clients of yours match “Nobody Ltd”." in reply.text
    assert "Which client is complaining?" in reply.last.text
    await c.anna.press("🏢 Romashka")

    question = "Romashka: what is the complaint about?"
    reply = await c.anna.send("quality")  # typed where a button is expected
    assert "Please choose one of the buttons below." in reply.text
    assert question in reply.last.text
    forged = FormCb(action=FormAction.CHOOSE, value="999").pack()
    reply = await c.anna.press_forged(forged)
    assert reply.callback_answer["text"] == NOT_FOUND
    await c.anna.press("Quality")

    reply = await c.anna.send("high")
    assert "Please choose one of the buttons below." in reply.text
    assert "How severe is it?" in reply.last.text
    forged = FormCb(action=FormAction.CHOOSE, value="urgent").pack()
    reply = await c.anna.press_forged(forged)
    assert reply.callback_answer["text"] == "That doesn't look right. Please try again."
    await c.anna.press("🔴 critical")

    question = "What is the client unhappy about?"
    reply = await c.anna.send_sticker()
    assert "Please answer with a text message." in reply.text
    assert question in reply.last.text
    reply = await c.anna.send("x" * 3001)
    assert "Too long: at most 3000 characters." in reply.text
    assert question in reply.last.text
    await c.anna.send("Wrong text")
    reply = await c.anna.press("← Back")
    assert question in reply.last.text  # no product lines: Back passes that step by too
    reply = await c.anna.press("← Back")
    assert "How severe is it?" in reply.last.text
    await c.anna.press("🔴 critical")
    await c.anna.send("Right text")
    reply = await c.anna.press("💾 Save")
    assert "Complaint #1 is logged." in reply.last.text
    complaint = await complaint_row(db, 1)
    assert (complaint.description, complaint.severity) == ("Right text", ComplaintSeverity.CRITICAL)

    # A text asked by an action: the same.
    await open_card(c.ivan, 1)
    reply = await c.ivan.press("💬 Comment")
    reply = await c.ivan.send_sticker()
    assert "Please answer with a text message." in reply.text
    assert "Your comment?" in reply.last.text
    reply = await c.ivan.send("y" * 1001)
    assert "Too long: at most 1000 characters." in reply.text
    assert "Your comment?" in reply.last.text
    assert len(await changes_of(db, 1)) == 1


async def test_a_restart_in_the_middle_of_a_new_complaint_continues(fake, bot, db):
    c = await company(fake, db)
    pumps = await add_product_line(db, "Pumps")
    await add_product_line(db, "Valves")
    await c.anna.tap("⚠️ Complaints")
    await c.anna.press("➕ New complaint")
    await c.anna.press("🏢 Romashka")
    await c.anna.press("Quality")
    reply = await c.anna.press("🟠 high")
    assert "Which product line is it about?" in reply.last.text
    assert reply.last.button_labels() == ["Pumps", "Valves", "Skip ➡️", "← Back", "✖ Cancel"]

    await bot.restart()
    reply = await c.anna.press("Pumps")
    assert "What is the client unhappy about?" in reply.last.text
    await bot.restart()
    reply = await c.anna.send_photo()  # no caption: attached, the question again
    assert "📎 Attached. Files in this complaint: 1." in reply.text
    assert "What is the client unhappy about?" in reply.last.text
    await bot.restart()
    reply = await c.anna.send_document("act.pdf", caption="The pump stopped on day two")
    assert "Product line: Pumps" in reply.last.text
    assert "📎 Files: 2" in reply.last.text
    await bot.restart()
    reply = await c.anna.press("💾 Save")
    assert "Complaint #1 is logged." in reply.last.text
    complaint = await complaint_row(db, 1)
    assert complaint.product_line_id == pumps
    assert complaint.description == "The pump stopped on day two"
    files = await db.all(select(Attachment).where(Attachment.complaint_id == 1))
    assert [(f.kind, f.file_name) for f in files] == [
        (AttachmentKind.PHOTO, None),
        (AttachmentKind.DOCUMENT, "act.pdf"),
    ]


async def test_the_list_shows_overdue_first_then_severity_then_age(fake, bot, db):
    c = await company(fake, db)
    start = bot.clock.now()

    async def logged(client: int, severity: ComplaintSeverity) -> int:
        return await open_directly(
            db, c.anna if client == c.romashka else c.boris, client, severity, bot.clock.now(), bot
        )

    await logged(c.romashka, ComplaintSeverity.HIGH)  # 1: overdue a day later
    bot.clock.set(start + timedelta(hours=25))
    await logged(c.romashka, ComplaintSeverity.CRITICAL)  # 2
    bot.clock.advance(hours=1)
    await logged(c.lilia, ComplaintSeverity.LOW)  # 3: Boris's client
    bot.clock.advance(hours=1)
    await logged(c.romashka, ComplaintSeverity.CRITICAL)  # 4
    expected = [
        "⏰🟠 #1 Romashka · 1 d",
        "🔴 #2 Romashka · 2 h",
        "🔴 #4 Romashka · 0 h",
        "⚪ #3 Lilia · 1 h",
    ]

    # The service head: the department's queue, and his own; both views a tap away.
    reply = await c.hugo.tap("⚠️ Complaints")
    assert "Complaints · 🏢 Department (4)" in reply.last.text
    assert reply.last.button_labels() == [
        *expected,
        "📥 Mine and the queue",
        "• 🏢 Department",
        "➕ New complaint",
    ]
    assert protected(reply, "Complaints")
    reply = await c.hugo.press("📥 Mine and the queue")
    assert reply.last.button_labels()[:4] == expected
    # The head of sales: complaints on the department's clients; the admin: all of them.
    reply = await c.sofia.tap("⚠️ Complaints")
    assert reply.last.button_labels() == [*expected, "➕ New complaint"]
    reply = await c.admin.tap("⚠️ Complaints")
    assert "Complaints · 🏢 All open (4)" in reply.last.text
    # Managers: complaints on their own clients.
    reply = await c.boris.tap("⚠️ Complaints")
    assert "Complaints · 👤 My clients (1)" in reply.last.text
    assert reply.last.button_labels() == ["⚪ #3 Lilia · 1 h", "➕ New complaint"]
    reply = await c.anna.tap("⚠️ Complaints")
    assert reply.last.button_labels() == [*expected[:3], "➕ New complaint"]

    # Eight a page.
    for _ in range(6):
        await logged(c.lilia, ComplaintSeverity.LOW)
    reply = await c.hugo.tap("⚠️ Complaints")
    labels = reply.last.button_labels()
    assert labels[:4] == [*expected[:3], "⚪ #3 Lilia · 1 h"]
    assert labels[8:10] == ["1/2", "▶"]
    reply = await c.hugo.press("▶")
    assert reply.last.button_labels()[:3] == ["⚪ #9 Lilia · 0 h", "⚪ #10 Lilia · 0 h", "◀"]
    assert "9. ⚪ #9 Lilia · 0 h · open" in reply.last.text


async def test_each_message_says_what_its_change_did_even_when_two_fall_between_sweeps(
    fake, bot, db
):
    c = await company(fake, db)
    await open_directly(db, c.anna, c.romashka, ComplaintSeverity.LOW, bot.clock.now(), bot)
    await open_card(c.hugo, 1)
    await c.hugo.press("👤 Assign")
    await c.hugo.press("Ivan")
    await c.hugo.press("👤 Assign")
    await c.hugo.press("Jana")  # a slip corrected before the sweep
    await c.hugo.press("🎚 Severity")
    await c.hugo.press("🟠 high")
    await c.hugo.press("🎚 Severity")
    await c.hugo.press("🔴 critical")
    await bot.sweep()
    assert len(told(fake, c.ivan, "A complaint is assigned to you")) == 1
    assert len(told(fake, c.jana, "A complaint is assigned to you")) == 1
    assert len(told(fake, c.anna, "Complaint assigned to Ivan")) == 1
    assert len(told(fake, c.anna, "Complaint assigned to Jana")) == 1
    assert len(told(fake, c.anna, "Severity changed to high")) == 1
    assert len(told(fake, c.anna, "Severity changed to critical")) == 1


async def test_a_complaint_from_the_client_card_shows_on_the_card_and_in_its_history(fake, bot, db):
    c = await company(fake, db)
    await open_search(c.anna)
    await c.anna.send("Romashka")
    await c.anna.press("🏢 Romashka")
    reply = await c.anna.press("⚠️ Complaint")  # the client is known: the category comes first
    assert "Quality" in reply.last.button_labels()
    await c.anna.press("Quality")
    await c.anna.press("🔴 critical")
    await c.anna.send(LEAK)
    await c.anna.press("💾 Save")
    (complaint,) = await db.all(select(Complaint))
    assert (complaint.client_id, complaint.severity) == (c.romashka, ComplaintSeverity.CRITICAL)

    await open_search(c.anna)
    await c.anna.send("Romashka")
    reply = await c.anna.press("🏢 Romashka")
    assert "⚠️ Open complaints: 1 · critical: 1" in reply.last.text
    reply = await c.anna.press("🕘 History")
    history = reply.last.text
    assert f"🔴 Complaint #{complaint.id} · opened" in history
    assert "leaks & hums" in history

    async with db.session_factory() as session:
        ivan = await session.scalar(select(User).where(User.telegram_id == c.ivan.id))
        hugo = await session.scalar(select(User).where(User.telegram_id == c.hugo.id))
        now = bot.clock.now()
        await complaints.assign(session, hugo, complaint.id, 1, ivan.id, now=now)
        await complaints.take(session, ivan, complaint.id, 2, now=now)
        await complaints.resolve(session, ivan, complaint.id, 3, "Replaced the seal", now=now)
    reply = await c.anna.press("← Card")
    assert "Open complaints" not in reply.last.text
    reply = await c.anna.press("🕘 History")
    assert f"Complaint #{complaint.id} · resolved" in reply.last.text
    assert "Replaced the seal" in reply.last.text
