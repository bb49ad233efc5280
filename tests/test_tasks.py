"""✅ Tasks and reminders: a manager adds a task from the menu, a client's card or one typed
sentence ("remind me on Friday 15:00 to send the offer to Romashka"), gets reminded at the due
moment (once, also across restarts and downtime), snoozes, reschedules, closes it, and sees the
open ones by day in their own time zone.

Time is the bot's FakeClock: each story starts on a Wednesday at 12:00 in Moscow and moves the
clock by hand; `bot.sweep()` runs what the scheduler runs (reminders, then delivery)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from sqlalchemy import insert, select

from bot.i18n import DOMAIN, LOCALES_DIR
from bot.keyboards.callbacks import TaskAction, TaskCb
from bot.services import parsing
from db.models import Client, Interaction, InteractionKind, Task, TaskStatus
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, FakeUser, SentMessage
from tests.stories import add_department, admin_joins, colleague_joins, user_row

MOSCOW = ZoneInfo("Europe/Moscow")
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")
ROMASHKA_PHONE = "+79123456789"
REMINDER_BUTTONS = ["✅ Done", "+15 min", "+1 h", "Tomorrow 09:00", "📅 Reschedule"]
RU_WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")

_catalogues = I18n(path=LOCALES_DIR, default_locale="en", domain=DOMAIN)


def ru(text: str) -> str:
    """What a Russian-speaking user sees for an English message id (the id itself until it is
    translated: texts are translated after they are written)."""
    return _catalogues.gettext(text, locale="ru")


# The people, their clients, and the time


async def managers_join(fake: FakeTelegram, *people: tuple[int, str]) -> list[FakeUser]:
    """An admin sets up Sales; each (id, language) joins it as a manager."""
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    return [
        await colleague_joins(fake, admin, i, f"Manager {i}", language=language)
        for i, language in people
    ]


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


def moscow(day: date, hour: int, minute: int = 0, zone: ZoneInfo = MOSCOW) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


def a_wednesday() -> date:
    """The first Wednesday after tomorrow (the clock never goes back: the outbox runs on it)."""
    day = datetime.now(MOSCOW).date() + timedelta(days=2)
    return day + timedelta(days=(2 - day.weekday()) % 7)


def start_on_wednesday_noon(bot) -> date:
    wednesday = a_wednesday()
    bot.clock.set(moscow(wednesday, 12))
    return wednesday


def echo(moment: datetime, zone: ZoneInfo = MOSCOW) -> str:
    """A date as an English-speaking user sees it: "Fri 25 Dec 2026, 15:30"."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"


def echo_ru(moment: datetime, zone: ZoneInfo = MOSCOW) -> str:
    """The same for a Russian speaker: "пт, 25.12.2026 15:30"."""
    local = moment.astimezone(zone)
    return f"{RU_WEEKDAYS[local.weekday()]}, {local:%d.%m.%Y %H:%M}"


def reminders(fake: FakeTelegram, user: FakeUser, word: str = "Reminder") -> list[SentMessage]:
    """Reminders sent to the user so far, as they arrived (later edits don't change them)."""
    return [
        call.message
        for call in fake.calls_of("sendMessage", user.id)
        if call.ok and call.message is not None and word in call.message.content
    ]


async def tasks_of(db: Db) -> list[Task]:
    return await db.all(select(Task).order_by(Task.id))


async def new_task_from_the_menu(manager: FakeUser, text: str):
    await manager.tap("✅ Tasks")
    reply = await manager.press("➕ New task")
    assert "What should I remind you about?" in reply.last.text
    reply = await manager.send(text)
    assert "When? Tap a day, or type a date and time" in reply.last.text
    return reply


# The stories


async def test_a_task_from_the_menu_reminds_at_its_time_and_not_before(fake, bot, db):
    (manager,) = await managers_join(fake, (2001, "en"))
    wednesday = start_on_wednesday_noon(bot)

    reply = await manager.tap("✅ Tasks")
    assert "No open tasks" in reply.text
    assert reply.last.button_labels() == ["➕ New task"]
    reply = await new_task_from_the_menu(manager, "Prepare the <b>price</b> list & samples")
    assert reply.last.button_labels() == [
        "Today",
        "Tomorrow",
        "In 3 days",
        "Next week",
        "← Back",
        "✖ Cancel",
    ]
    reply = await manager.press("Tomorrow")
    due = moscow(wednesday + timedelta(days=1), 9)
    assert "⏰ Prepare the <b>price</b> list & samples" in reply.text
    assert f"I'll remind you {echo(due)}." in reply.text
    assert reply.last.button_labels() == ["↩️ Undo"]

    [task] = await tasks_of(db)
    owner = await user_row(db, manager.id)
    assert (task.owner_id, task.text, task.due_at, task.status, task.client_id) == (
        owner.id,
        "Prepare the <b>price</b> list & samples",
        due,
        TaskStatus.OPEN,
        None,
    )

    await bot.sweep()
    bot.clock.set(due - timedelta(minutes=1))
    await bot.sweep()
    assert reminders(fake, manager) == []
    assert (await tasks_of(db))[0].reminded_at is None

    bot.clock.advance(minutes=1)
    await bot.sweep()
    [reminder] = reminders(fake, manager)
    assert "⏰ Reminder: Prepare the <b>price</b> list & samples" in reminder.text
    assert f"Due {echo(due)}" in reminder.text and "Late" not in reminder.text
    assert reminder.button_labels() == REMINDER_BUTTONS  # no client, no "Open client"
    assert (await tasks_of(db))[0].reminded_at == due

    await bot.sweep()
    assert len(reminders(fake, manager)) == 1


async def test_a_reminder_from_the_card_snoozed_once_then_done_stays_in_the_history(fake, bot, db):
    (manager,) = await managers_join(fake, (2001, "en"))
    wednesday = start_on_wednesday_noon(bot)
    romashka = await add_client(db, manager, "Romashka LLC", ROMASHKA_PHONE)

    await manager.tap("👤 Clients")
    await manager.press("📋 My clients")
    reply = await manager.press("🏢 Romashka LLC")
    reply = await manager.press("⏰ Reminder")
    assert "Romashka LLC" in reply.last.text
    assert "What should I remind you about?" in reply.last.text
    await manager.send("Call about the contract")
    reply = await manager.send("today 15:00")
    due = moscow(wednesday, 15)
    assert "⏰ Call about the contract" in reply.text
    assert f"Client: Romashka LLC, {ROMASHKA_PHONE}" in reply.text
    assert f"I'll remind you {echo(due)}." in reply.text
    assert reply.last.button_labels() == ["↩️ Undo", "👤 Open client"]
    [task] = await tasks_of(db)
    assert (task.client_id, task.due_at) == (romashka, due)

    bot.clock.set(due)
    await bot.sweep()
    [reminder] = reminders(fake, manager)
    assert "⏰ Reminder: Call about the contract" in reminder.text
    assert f"Client: Romashka LLC, {ROMASHKA_PHONE}" in reminder.text
    assert reminder.button_labels() == [*REMINDER_BUTTONS, "👤 Open client"]

    reply = await manager.press("+15 min", message=reminder)
    later = due + timedelta(minutes=15)
    assert reply.callback_answer["text"] == f"I'll remind you {echo(later)}."
    assert f"Snoozed until {echo(later)}." in reply.last.text
    assert reply.last.button_labels() == []
    task = (await tasks_of(db))[0]
    assert (task.due_at, task.reminded_at, task.status) == (later, None, TaskStatus.OPEN)

    bot.clock.advance(minutes=14)
    await bot.sweep()
    assert len(reminders(fake, manager)) == 1
    bot.clock.advance(minutes=1)
    await bot.sweep()
    await bot.sweep()
    _first, again = reminders(fake, manager)
    assert "Call about the contract" in again.text and f"Due {echo(later)}" in again.text

    reply = await manager.press("✅ Done", message=again)
    assert reply.callback_answer["text"] == "Done ✅"
    assert "✅ Done: Call about the contract" in reply.last.text
    task = (await tasks_of(db))[0]
    assert (task.status, task.done_at) == (TaskStatus.DONE, bot.clock.now())

    bot.clock.advance(days=2)
    await bot.sweep()
    assert len(reminders(fake, manager)) == 2
    reply = await manager.tap("✅ Tasks")
    assert "No open tasks" in reply.text

    # The done task is part of the client's story; the card opens from the old reminder.
    reply = await manager.press("👤 Open client")  # under "I'll remind you…"
    assert "Romashka LLC" in reply.last.text
    reply = await manager.press("🕘 History")
    history = reply.last.text
    assert "History: Romashka LLC (1)" in history
    assert f"✅ Task done · {echo(later)} · Manager 2001" in history
    assert "Call about the contract" in history


async def test_reschedule_with_a_typed_date(fake, bot, db):
    (manager,) = await managers_join(fake, (2001, "en"))
    wednesday = start_on_wednesday_noon(bot)
    await new_task_from_the_menu(manager, "Send the invoice")
    await manager.send("in 2 hours")
    due = moscow(wednesday, 14)
    bot.clock.set(due)
    await bot.sweep()
    [reminder] = reminders(fake, manager)

    reply = await manager.press("📅 Reschedule", message=reminder)
    assert "When should I remind you?" in reply.last.text
    reply = await manager.send("someday")
    assert "I couldn't read that date." in reply.text
    assert "When should I remind you?" in reply.last.text
    reply = await manager.send("friday 16:30")
    friday = moscow(wednesday + timedelta(days=2), 16, 30)
    assert f"Rescheduled: Send the invoice — {echo(friday)}" in reply.text
    [task] = await tasks_of(db)
    assert (task.due_at, task.reminded_at, task.status) == (friday, None, TaskStatus.OPEN)

    bot.clock.set(friday - timedelta(minutes=1))
    await bot.sweep()
    assert len(reminders(fake, manager)) == 1
    bot.clock.set(friday)
    await bot.sweep()
    assert len(reminders(fake, manager)) == 2


async def test_a_sentence_in_english_becomes_a_task_linked_to_the_client_it_names(fake, bot, db):
    (manager,) = await managers_join(fake, (2001, "en"))
    wednesday = start_on_wednesday_noon(bot)
    romashka = await add_client(db, manager, "Romashka LLC", ROMASHKA_PHONE)
    await add_client(db, manager, "Petrov Trade")
    await add_client(db, manager, "Petrov Logistics")

    reply = await manager.send("remind me on Friday 15:00 to send the offer to Romashka")
    friday = moscow(wednesday + timedelta(days=2), 15)
    assert f"⏰ send the offer to Romashka — {echo(friday)}" in reply.text
    assert f"Client: Romashka LLC, {ROMASHKA_PHONE}" in reply.text
    assert reply.last.button_labels() == ["↩️ Undo", "👤 Open client"]
    assert "I didn't get that" not in reply.text

    reply = await manager.send("Remind me tomorrow 10am call Petrov")  # two Petrovs: no link
    tomorrow_ten = moscow(wednesday + timedelta(days=1), 10)
    assert f"⏰ call Petrov — {echo(tomorrow_ten)}" in reply.text
    assert "Client:" not in reply.text
    assert reply.last.button_labels() == ["↩️ Undo"]

    offer, call = await tasks_of(db)
    assert (offer.text, offer.due_at, offer.client_id) == (
        "send the offer to Romashka",
        friday,
        romashka,
    )
    assert (call.text, call.due_at, call.client_id) == ("call Petrov", tomorrow_ten, None)

    reply = await manager.press("↩️ Undo")
    assert reply.callback_answer["text"] == "Cancelled."
    assert "↩️ Cancelled: call Petrov" in reply.last.text
    assert (await tasks_of(db))[1].status is TaskStatus.CANCELLED
    bot.clock.set(tomorrow_ten + timedelta(hours=1))
    await bot.sweep()
    assert reminders(fake, manager) == []


async def test_a_sentence_without_a_date_asks_for_it_and_a_flow_keeps_its_own_text(fake, bot, db):
    (manager,) = await managers_join(fake, (2001, "en"))
    wednesday = start_on_wednesday_noon(bot)
    romashka = await add_client(db, manager, "Romashka LLC")

    reply = await manager.send("remind me to call Romashka about the samples")
    assert "I couldn't find a date in that." in reply.text
    assert "remind me on Friday 15:00 to send the offer" in reply.text  # an example
    assert "When? Tap a day" in reply.last.text
    reply = await manager.press("In 3 days")
    due = moscow(wednesday + timedelta(days=3), 9)
    assert "⏰ call Romashka about the samples" in reply.text
    assert f"I'll remind you {echo(due)}." in reply.text
    [task] = await tasks_of(db)
    assert (task.text, task.due_at, task.client_id) == (
        "call Romashka about the samples",
        due,
        romashka,
    )

    reply = await manager.send("remind me 01.01.2020 to call")
    assert "That time has already passed." in reply.text
    assert "напомни завтра в 10 позвонить Иванову" in reply.text
    assert len(await tasks_of(db)) == 1

    # Inside a flow the words are just what the flow asked for.
    await manager.tap("📝 Log contact")
    await manager.press("🏢 Romashka LLC")
    await manager.press("📞 Call")
    reply = await manager.send("Remind me tomorrow to call them back")
    assert "Summary: Remind me tomorrow to call them back" in reply.last.text
    assert len(await tasks_of(db)) == 1


async def test_a_russian_manager_types_reminders(fake, bot, db):
    (petr,) = await managers_join(fake, (2002, "ru"))
    wednesday = start_on_wednesday_noon(bot)
    ivanov = await add_client(db, petr, "ИП Иванов", "+79161234567")
    await add_client(db, petr, "Петров Трейд")
    await add_client(db, petr, "Петров Логистик")

    reply = await petr.send("напомни завтра в 10 позвонить Иванову")
    tomorrow_ten = moscow(wednesday + timedelta(days=1), 10)
    assert f"⏰ позвонить Иванову — {echo_ru(tomorrow_ten)}" in reply.text
    assert ru("Client: {client}").format(client="ИП Иванов, +79161234567") in reply.text

    reply = await petr.send("Напомнить в пятницу 15:00 отправить КП")
    friday = moscow(wednesday + timedelta(days=2), 15)
    assert f"⏰ отправить КП — {echo_ru(friday)}" in reply.text
    assert reply.last.button_labels() == [ru("↩️ Undo")]

    reply = await petr.send("напомни мне через 2 часа что нужно позвонить Петрову")  # two Petrovs
    in_two_hours = moscow(wednesday, 14)
    assert f"⏰ нужно позвонить Петрову — {echo_ru(in_two_hours)}" in reply.text

    reply = await petr.send("напомни позвонить в банк")
    assert ru("I couldn't find a date in that.") in reply.text
    reply = await petr.send("послезавтра в 11")
    after_tomorrow = moscow(wednesday + timedelta(days=2), 11)
    assert "⏰ позвонить в банк" in reply.text
    assert ru("I'll remind you {when}.").format(when=echo_ru(after_tomorrow)) in reply.text

    saved = [(t.text, t.due_at, t.client_id) for t in await tasks_of(db)]
    assert saved == [
        ("позвонить Иванову", tomorrow_ten, ivanov),
        ("отправить КП", friday, None),
        ("нужно позвонить Петрову", in_two_hours, None),
        ("позвонить в банк", after_tomorrow, None),
    ]

    bot.clock.set(tomorrow_ten)
    await bot.sweep()
    word = ru("⏰ <b>Reminder</b>: {text}").split("</b>")[0].split("<b>")[1]
    due_now = [m for m in reminders(fake, petr, word) if "Иванову" in m.text]
    assert len(due_now) == 1
    assert "ИП Иванов, +79161234567" in due_now[0].text
    assert echo_ru(tomorrow_ten) in due_now[0].text


async def test_a_restart_before_the_due_time_still_reminds_once(fake, bot, db):
    (manager,) = await managers_join(fake, (2001, "en"))
    wednesday = start_on_wednesday_noon(bot)
    await manager.send("remind me today 16:00 to check the delivery")
    due = moscow(wednesday, 16)

    await bot.restart()
    await bot.sweep()
    assert reminders(fake, manager) == []

    bot.clock.set(due)
    await bot.sweep()
    await bot.restart()
    await bot.sweep()
    [reminder] = reminders(fake, manager)
    assert "check the delivery" in reminder.text and "Late" not in reminder.text


async def test_a_reminder_due_while_the_bot_was_down_comes_once_marked_late(fake, bot, db):
    (manager,) = await managers_join(fake, (2001, "en"))
    wednesday = start_on_wednesday_noon(bot)
    await manager.send("remind me today 13:00 to call the warehouse")
    due = moscow(wednesday, 13)

    await bot.stop()
    bot.clock.set(due + timedelta(hours=2))
    await bot.start()  # its start-up sweep sends what fell due meanwhile
    await bot.sweep()
    await bot.restart()
    await bot.sweep()

    [reminder] = reminders(fake, manager)
    assert "⏰ Reminder: call the warehouse" in reminder.text
    assert f"⚠️ Late: it was due {echo(due)} (the bot was unavailable)." in reminder.text
    [task] = await tasks_of(db)
    assert task.reminded_at == due + timedelta(hours=2)
    assert task.status is TaskStatus.OPEN  # reminded, still to be done


async def test_moving_to_another_time_zone_keeps_the_moment(fake, bot, db):
    (manager,) = await managers_join(fake, (2001, "en"))
    wednesday = start_on_wednesday_noon(bot)
    await manager.send("remind me tomorrow 10am to call the bank")
    due = moscow(wednesday + timedelta(days=1), 10)

    await manager.tap("⚙️ Settings")
    await manager.press("🕒 Time zone")
    await manager.send("Asia/Vladivostok")
    [task] = await tasks_of(db)
    assert task.due_at == due == datetime(due.year, due.month, due.day, 7, tzinfo=UTC)

    reply = await manager.tap("✅ Tasks")
    assert f"1. {echo(due, VLADIVOSTOK)} — call the bank" in reply.text
    assert "17:00" in echo(due, VLADIVOSTOK)

    bot.clock.set(due - timedelta(minutes=1))
    await bot.sweep()
    assert reminders(fake, manager) == []
    bot.clock.set(due)
    await bot.sweep()
    [reminder] = reminders(fake, manager)
    assert f"Due {echo(due, VLADIVOSTOK)}" in reminder.text


async def test_the_list_shows_overdue_today_and_upcoming_and_opens_a_task(fake, bot, db):
    (manager,) = await managers_join(fake, (2001, "en"))
    wednesday = start_on_wednesday_noon(bot)
    await add_client(db, manager, "Romashka LLC", ROMASHKA_PHONE)
    await manager.send("remind me today 12:30 to call Romashka")
    await manager.send("remind me tomorrow 10am to send the contract")
    await manager.send("remind me today 18:00 to write the report")
    bot.clock.set(moscow(wednesday, 14))  # 12:30 has passed

    reply = await manager.tap("✅ Tasks")
    text = reply.last.text
    overdue, today = moscow(wednesday, 12, 30), moscow(wednesday, 18)
    tomorrow = moscow(wednesday + timedelta(days=1), 10)
    assert "Your tasks (3)" in text
    assert (
        "⚠️ Overdue\n"
        f"⚠️ 1. {echo(overdue)} — call Romashka · Romashka LLC\n\n"
        "📅 Today\n"
        f"2. {echo(today)} — write the report\n\n"
        "🗓 Upcoming\n"
        f"3. {echo(tomorrow)} — send the contract"
    ) in text
    assert reply.last.button_labels() == [
        "⚠️ 1. call Romashka",
        "2. write the report",
        "3. send the contract",
        "➕ New task",
    ]

    reply = await manager.press("⚠️ 1. call Romashka")
    card = reply.last
    assert "call Romashka" in card.text
    assert f"Client: Romashka LLC, {ROMASHKA_PHONE}" in card.text
    assert f"⚠️ Overdue: it was due {echo(overdue)}" in card.text
    assert card.button_labels() == [*REMINDER_BUTTONS, "👤 Open client", "← Tasks"]
    reply = await manager.press("← Tasks")
    assert "Your tasks (3)" in reply.last.text

    await manager.press("2. write the report")
    reply = await manager.press("+1 h")  # an hour from now
    assert f"Snoozed until {echo(moscow(wednesday, 15))}." in reply.last.text
    await manager.tap("✅ Tasks")
    await manager.press("⚠️ 1. call Romashka")
    await manager.press("✅ Done")
    reply = await manager.tap("✅ Tasks")
    assert "Your tasks (2)" in reply.last.text and "Overdue" not in reply.last.text
    statuses = [(t.text, t.status) for t in await tasks_of(db)]
    assert statuses == [
        ("call Romashka", TaskStatus.DONE),
        ("send the contract", TaskStatus.OPEN),
        ("write the report", TaskStatus.OPEN),
    ]


async def test_a_long_list_comes_in_pages(fake, bot, db):
    (manager,) = await managers_join(fake, (2001, "en"))
    start_on_wednesday_noon(bot)
    owner = await user_row(db, manager.id)
    now = bot.clock.now()
    await db.execute(
        insert(Task),
        [
            {"owner_id": owner.id, "text": f"Task {n:02}", "due_at": now + timedelta(days=n)}
            for n in range(1, 11)
        ],
    )
    reply = await manager.tap("✅ Tasks")
    assert "Your tasks (10)" in reply.last.text
    labels = reply.last.button_labels()
    assert labels[:8] == [f"{n}. Task {n:02}" for n in range(1, 9)]
    assert labels[8:] == ["1/2", "▶", "➕ New task"]

    reply = await manager.press("▶")
    assert reply.last.button_labels() == ["9. Task 09", "10. Task 10", "◀", "2/2", "➕ New task"]
    reply = await manager.press("10. Task 10")
    assert f"Due {echo(now + timedelta(days=10))}" in reply.last.text
    reply = await manager.press("← Tasks")
    assert "10. " in reply.last.text and "Task 01" not in reply.last.text


async def test_a_flow_started_from_the_menu_survives_a_restart_and_checks_input(fake, bot, db):
    (manager,) = await managers_join(fake, (2001, "en"))
    wednesday = start_on_wednesday_noon(bot)
    reply = await manager.tap("✅ Tasks")
    await manager.press("➕ New task")
    reply = await manager.send_sticker()
    assert "Please answer with a text message." in reply.text
    assert "What should I remind you about?" in reply.last.text
    await manager.send("Visit the new shop")

    await bot.restart()

    reply = await manager.send("someday maybe")
    assert "I couldn't read that date." in reply.text
    reply = await manager.press("← Back")
    assert "What should I remind you about?" in reply.last.text
    await manager.send("Visit the new shop on Lenina")
    reply = await manager.press("Next week")
    monday = moscow(wednesday + timedelta(days=5), 9)
    assert f"I'll remind you {echo(monday)}." in reply.text
    [task] = await tasks_of(db)
    assert (task.text, task.due_at) == ("Visit the new shop on Lenina", monday)


async def test_a_quick_day_shown_yesterday_is_not_taken_for_today(fake, bot, db):
    (manager,) = await managers_join(fake, (2001, "en"))
    wednesday = start_on_wednesday_noon(bot)
    await new_task_from_the_menu(manager, "Call the bank")
    bot.clock.set(moscow(wednesday + timedelta(days=1), 10))  # the next morning

    reply = await manager.press("Today")  # Wednesday 13:00, gone
    assert reply.callback_answer["text"].startswith("That time has already passed.")
    reply = await manager.press("Today")  # asked again with Thursday's days
    assert f"I'll remind you {echo(moscow(wednesday + timedelta(days=1), 11))}." in reply.text


async def test_nobody_acts_on_somebody_elses_task(fake, bot, db):
    anna, boris = await managers_join(fake, (2001, "en"), (2002, "en"))
    start_on_wednesday_noon(bot)
    await boris.send("remind me tomorrow 10am to call the secret client")
    [task] = await tasks_of(db)

    for action in (TaskAction.OPEN, TaskAction.DONE, TaskAction.CANCEL, TaskAction.RESCHEDULE):
        reply = await anna.press_forged(TaskCb(action=action, task_id=task.id).pack())
        assert reply.callback_answer["text"].startswith("Not found"), action
        assert "secret" not in reply.text
    reply = await anna.press_forged(
        TaskCb(action=TaskAction.SNOOZE, task_id=task.id, value="15").pack()
    )
    assert reply.callback_answer["text"].startswith("Not found")
    reply = await anna.tap("✅ Tasks")
    assert "No open tasks" in reply.text
    [task] = await tasks_of(db)
    assert (task.status, task.due_at.astimezone(MOSCOW).hour) == (TaskStatus.OPEN, 10)


async def test_the_history_puts_done_tasks_between_the_contacts_of_their_time(fake, bot, db):
    (manager,) = await managers_join(fake, (2001, "en"))
    wednesday = start_on_wednesday_noon(bot)
    romashka = await add_client(db, manager, "Romashka LLC")
    author = await user_row(db, manager.id)
    start = moscow(wednesday - timedelta(days=10), 12)
    await db.execute(
        insert(Interaction),
        [
            {
                "client_id": romashka,
                "author_id": author.id,
                "kind": InteractionKind.CALL,
                "summary": f"Call {n}",
                "occurred_at": start + timedelta(days=n),
            }
            for n in range(1, 7)  # Call 6 is the newest: page 1 has 6..2, page 2 has 1
        ],
    )
    done = [
        ("Done after call 6", start + timedelta(days=6, hours=1)),
        ("Done between call 2 and 1", start + timedelta(days=1, hours=1)),
        ("Done before call 1", start + timedelta(hours=1)),
    ]
    await db.execute(
        insert(Task),
        [
            {
                "owner_id": author.id,
                "client_id": romashka,
                "text": text,
                "due_at": moment,
                "status": TaskStatus.DONE,
                "done_at": moment,
            }
            for text, moment in done
        ],
    )
    await manager.send("remind me tomorrow 10am to call Romashka")

    await manager.tap("👤 Clients")
    await manager.press("📋 My clients")
    await manager.press("🏢 Romashka LLC")
    reply = await manager.press("🕘 History")
    first = reply.last.text
    assert "History: Romashka LLC (9)" in first
    assert f"Open tasks\n• {echo(moscow(wednesday + timedelta(days=1), 10))} — call Romashka" in (
        first
    )
    assert first.index("Done after call 6") < first.index("Call 6") < first.index("Call 2")
    assert "Done between call 2 and 1" not in first and "Done before call 1" not in first

    reply = await manager.press("▶")
    second = reply.last.text
    assert "Open tasks" not in second and "Done after call 6" not in second
    assert (
        second.index("Done between call 2 and 1")
        < second.index("Call 1")
        < second.index("Done before call 1")
        < second.index("Added to the base")
    )
