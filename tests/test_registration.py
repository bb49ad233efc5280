"""Getting in: admins from ADMIN_IDS, everyone else by a one-time invite link."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.services import invites
from db.models import AuditEntry, Invite, Role
from db.types import utcnow
from tests.stories import (
    add_department,
    admin_joins,
    code_of,
    colleague_joins,
    invite_link,
    user_row,
)


async def test_admin_from_admin_ids_gets_the_menu(fake, bot, db):
    admin = await admin_joins(fake)

    assert "Welcome, Olga Admin" in admin.last.text
    assert admin.reply_keyboard == [
        ["📝 Log contact", "👤 Clients", "✅ Tasks"],
        ["💼 Deals", "⚠️ Complaints", "📊 KPI"],
        ["👥 Team", "🛠 Admin", "⚙️ Settings"],
        ["❓ Help"],
    ]
    row = await user_row(db, admin.id)
    assert row is not None and row.role is Role.ADMIN and row.locale == "en"


async def test_stranger_is_told_how_to_get_access_and_nothing_else(fake, bot, db):
    stranger = fake.user(5005, "Ivan", language_code="ru")

    reply = await stranger.command("start")
    assert "только по приглашению" in reply.text
    reply = await stranger.send("покажи клиентов")
    assert "только по приглашению" in reply.text
    assert stranger.reply_keyboard is None
    assert await user_row(db, 5005) is None


async def test_manager_joins_by_invite_and_sees_the_menu_in_their_language(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales North")
    link = await invite_link(admin, "manager", "Sales North")
    assert link.startswith("https://t.me/fieldcrm_test_bot?start=")
    assert len(code_of(link)) <= 64

    manager = fake.user(2002, "Пётр", language_code="ru")
    reply = await manager.command("start", code_of(link))

    assert "Добро пожаловать, Пётр" in reply.text
    assert manager.reply_keyboard == [
        ["📝 Записать контакт", "👤 Клиенты", "✅ Задачи"],
        ["💼 Сделки", "⚠️ Жалобы", "📊 Показатели"],
        ["⚙️ Настройки", "❓ Помощь"],
    ]
    row = await user_row(db, 2002)
    assert row is not None and row.role is Role.MANAGER and row.department.name == "Sales North"
    assert row.locale == "ru" and row.timezone == "Europe/Moscow"


async def test_an_invite_works_once(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Service")
    code = code_of(await invite_link(admin, "manager", "Service"))
    await fake.user(2002, "Petr", language_code="en").command("start", code)

    reply = await fake.user(2003, "Anna", language_code="en").command("start", code)

    assert "already been used" in reply.text
    assert await user_row(db, 2003) is None


async def test_expired_and_unknown_invites_are_refused(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Service")
    code = code_of(await invite_link(admin, "manager", "Service"))
    await db.execute(update(Invite).values(expires_at=utcnow() - timedelta(minutes=1)))

    late = fake.user(2003, "Anna", language_code="en")
    assert "has expired" in (await late.command("start", code)).text
    assert "is unknown" in (await late.command("start", "no-such-code")).text
    assert await user_row(db, 2003) is None


async def test_head_invites_only_managers_of_own_department(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales North")
    head = await colleague_joins(
        fake, admin, 3003, "Nina", role="head of department", department="Sales North"
    )
    assert head.reply_keyboard == [
        ["📝 Log contact", "👤 Clients", "✅ Tasks"],
        ["💼 Deals", "⚠️ Complaints", "📊 KPI"],
        ["👥 Team", "⚙️ Settings", "❓ Help"],
    ]

    await head.command("invite")
    assert "How long should the link work?" in head.last.text  # no role or department to pick
    reply = await head.press("30 d.")
    assert "manager · Sales North" in reply.text

    manager = fake.user(4004, "Max", language_code="en")
    await manager.command("start", code_of(reply.text))
    row = await user_row(db, 4004)
    assert row is not None and row.role is Role.MANAGER and row.department.name == "Sales North"
    actions = await db.all(select(AuditEntry.action))
    assert actions.count("invite_created") == 2 and actions.count("invite_redeemed") == 2


async def test_deactivated_user_loses_access_on_next_update(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales North")
    manager = await colleague_joins(fake, admin, 2002, "Petr", department="Sales North")

    await admin.tap("👥 Team")
    await admin.press("👤 Petr")
    reply = await admin.press("⛔ Deactivate")
    assert "turned off" in reply.text

    reply = await manager.tap("❓ Help")
    assert "access to FieldCRM has been turned off" in reply.text
    reply = await manager.command("start")
    assert "turned off" in reply.text

    await admin.press("✅ Reactivate")
    reply = await manager.tap("❓ Help")
    assert "FieldCRM in short" in reply.text
    actions = await db.all(select(AuditEntry.action))
    assert "user_deactivated" in actions and "user_reactivated" in actions


async def test_an_invite_never_looks_like_a_clients_survey_link(fake, bot, db, monkeypatch):
    """Client links start with "c_" and the bot reads every such /start as one: an invite
    drawn with that start is drawn again (before, one invite in 4,096 did not work)."""
    drawn = iter(["c_LooksLikeAClientLink1", "c_AndAgain_00000000000", "Fine_invite_code_22chr"])
    monkeypatch.setattr(invites.secrets, "token_urlsafe", lambda _nbytes: next(drawn))
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")

    link = await invite_link(admin, "manager", "Sales")

    assert code_of(link) == "Fine_invite_code_22chr"
    reply = await fake.user(2003, "Anna", language_code="en").command("start", code_of(link))
    assert "Welcome, Anna!" in reply.text
    assert (await user_row(db, 2003)).role is Role.MANAGER
