"""The morning agenda: at the manager's local time, once a day, only when there is news."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update

from db.models import Client, Task, User
from tests.stories import add_department, admin_joins, colleague_joins, user_row


async def manager_with_work(fake, bot, db, *, timezone: str = "Europe/Moscow"):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    petr = await colleague_joins(fake, admin, 2002, "Petr")
    row = await user_row(db, petr.id)
    await db.execute(update(User).where(User.id == row.id).values(timezone=timezone))
    return petr, row.id


def agenda_messages(fake, chat_id: int) -> list[str]:
    return [m.text for m in fake.sent_to(chat_id) if "Good morning" in (m.text or "")]


async def test_the_agenda_comes_at_nine_local_once_with_todays_overdue_and_stale(fake, bot, db):
    petr, petr_id = await manager_with_work(fake, bot, db)
    bot.clock.set(datetime(2026, 12, 1, 5, 59, tzinfo=UTC))  # 08:59 in Moscow
    now = bot.clock.now()
    await db.execute(
        insert(Client).values(
            name="Old Friend LLC",
            name_key="old friend",
            search_text="old friend llc",
            kind="company",
            owner_id=petr_id,
            created_at=now - timedelta(days=90),
            last_contact_at=now - timedelta(days=45),
        )
    )
    await db.execute(
        insert(Task),
        [
            {"owner_id": petr_id, "text": "Send the offer", "due_at": now + timedelta(hours=5)},
            {"owner_id": petr_id, "text": "Call back", "due_at": now - timedelta(days=2)},
            {"owner_id": petr_id, "text": "Next week", "due_at": now + timedelta(days=7)},
        ],
    )

    await bot.sweep()
    assert agenda_messages(fake, petr.id) == []

    bot.clock.advance(minutes=1)  # 09:00 Moscow
    await bot.sweep()
    [agenda] = agenda_messages(fake, petr.id)
    assert "Overdue (1)" in agenda and "Call back" in agenda
    assert "Today (1)" in agenda and "Send the offer" in agenda and "Next week" not in agenda
    assert "No contact for 30+ days (1)" in agenda and "Old Friend LLC" in agenda

    bot.clock.advance(hours=3)
    await bot.sweep()
    assert len(agenda_messages(fake, petr.id)) == 1  # once a day


async def test_no_agenda_on_a_day_with_nothing_to_say_or_when_turned_off(fake, bot, db):
    petr, petr_id = await manager_with_work(fake, bot, db)
    bot.clock.set(datetime(2026, 12, 1, 7, 0, tzinfo=UTC))  # 10:00 Moscow
    await bot.sweep()
    assert agenda_messages(fake, petr.id) == []

    await petr.tap("⚙️ Settings")
    await petr.press("☀️ Morning agenda")
    reply = await petr.press("🔕 Off")
    assert "Morning agenda: off" in reply.text
    await db.execute(
        insert(Task).values(
            owner_id=petr_id, text="Call", due_at=bot.clock.now() + timedelta(days=1)
        )
    )
    bot.clock.advance(days=1)
    await bot.sweep()
    assert agenda_messages(fake, petr.id) == []

    await petr.press("☀️ Morning agenda")
    reply = await petr.press("07:00")
    assert "Morning agenda: 07:00" in reply.text
    bot.clock.advance(days=1)
    await bot.sweep()
    assert len(agenda_messages(fake, petr.id)) == 1  # the task is overdue by now


async def test_nine_oclock_stays_nine_oclock_across_a_dst_change(fake, bot, db):
    petr, petr_id = await manager_with_work(fake, bot, db, timezone="Europe/Berlin")

    async def sent_at(utc: datetime) -> bool:
        before = len(agenda_messages(fake, petr.id))
        await db.execute(
            insert(Task).values(owner_id=petr_id, text="Call", due_at=utc + timedelta(hours=3))
        )
        bot.clock.set(utc - timedelta(minutes=1))
        await bot.sweep()
        assert len(agenda_messages(fake, petr.id)) == before, "sent before 09:00"
        bot.clock.set(utc)
        await bot.sweep()
        return len(agenda_messages(fake, petr.id)) == before + 1

    assert await sent_at(datetime(2027, 3, 27, 8, 0, tzinfo=UTC))  # 09:00 CET (UTC+1)
    assert await sent_at(datetime(2027, 3, 28, 7, 0, tzinfo=UTC))  # 09:00 CEST (UTC+2)
