"""Personal settings, help, and the team screen."""

from __future__ import annotations

from sqlalchemy import select

from bot.keyboards.callbacks import TeamAction, TeamCb
from db.models import AuditEntry, Role
from tests.stories import add_department, admin_joins, colleague_joins, user_row


async def test_language_switch_changes_every_text_and_the_menu(fake, bot, db):
    admin = await admin_joins(fake)
    await admin.tap("⚙️ Settings")
    await admin.press("🌐 Language")
    reply = await admin.press("🇷🇺 Русский")

    assert "Готово: теперь я говорю по-русски." in reply.text
    assert admin.reply_keyboard == [
        ["📝 Записать контакт", "👤 Клиенты", "✅ Задачи"],
        ["💼 Сделки", "⚠️ Жалобы", "📊 Показатели"],
        ["👥 Команда", "🛠 Админ", "⚙️ Настройки"],
        ["❓ Помощь"],
    ]
    assert (await user_row(db, admin.id)).locale == "ru"
    reply = await admin.tap("❓ Помощь")
    assert "Коротко о FieldCRM" in reply.text


async def test_time_zone_from_buttons_or_typed_with_a_clear_error(fake, bot, db):
    admin = await admin_joins(fake)
    await admin.tap("⚙️ Settings")
    await admin.press("🕒 Time zone")

    reply = await admin.send("Mars/Olympus")
    assert "Unknown time zone" in reply.text
    assert "Pick a city below" in reply.last.text  # asked again

    reply = await admin.press("Yekaterinburg (UTC+5)")
    assert "Time zone: Asia/Yekaterinburg (UTC+5)" in reply.text
    assert (await user_row(db, admin.id)).timezone == "Asia/Yekaterinburg"


async def test_help_is_written_for_the_role(fake, bot):
    admin = await admin_joins(fake)
    text = (await admin.command("help")).text
    assert "Admin" in text and "Team" in text

    await add_department(admin, "Sales")
    manager = await colleague_joins(fake, admin, 2002, "Petr")
    text = (await manager.tap("❓ Help")).text
    assert "Settings" in text and "Team" not in text and "Admin" not in text


async def test_admin_changes_a_role_and_it_is_audited(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    manager = await colleague_joins(fake, admin, 2002, "Petr")

    await admin.tap("👥 Team")
    await admin.press("👤 Petr")
    await admin.press("🎭 Change role")
    reply = await admin.press("head of department")

    assert "Role: head of department" in reply.text
    assert (await user_row(db, 2002)).role is Role.HEAD
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "role_changed"))
    assert entry is not None and entry.details == {"old": "manager", "new": "head"}
    assert manager.id in {
        c.params.get("scope", {}).get("chat_id")
        for c in fake.calls
        if c.method == "setMyCommands" and isinstance(c.params.get("scope"), dict)
    }


async def test_manager_cannot_reach_team_or_admin_even_by_typing(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    manager = await colleague_joins(fake, admin, 2002, "Petr")

    assert "You don't have access to this." in (await manager.command("team")).text
    assert "You don't have access to this." in (await manager.command("invite")).text
    assert "You don't have access to this." in (await manager.send("🛠 Admin")).text


async def test_a_head_sees_and_manages_only_their_department(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "North")
    await add_department(admin, "South")
    head = await colleague_joins(
        fake, admin, 3003, "Nina", role="head of department", department="North"
    )
    await colleague_joins(fake, admin, 2002, "Petr", department="North")
    await colleague_joins(fake, admin, 2003, "Sasha", department="South")

    reply = await head.tap("👥 Team")
    assert "2 people" in reply.text
    assert set(head.last.button_labels()) == {"⭐ Nina", "👤 Petr", "➕ Invite", "📤 Export"}
    reply = await head.press("⭐ Nina")
    assert "⛔ Deactivate" not in head.last.button_labels()  # not themselves
    assert "🎭 Change role" not in head.last.button_labels()  # roles are for admins
    await head.press("← Back")
    await head.press("👤 Petr")
    await head.press("⛔ Deactivate")
    assert not (await user_row(db, 2002)).is_active

    sasha = await user_row(db, 2003)
    for forged in (
        TeamCb(action=TeamAction.OPEN, user_id=sasha.id),
        TeamCb(action=TeamAction.DEACTIVATE, user_id=sasha.id),
        TeamCb(action=TeamAction.SET_ROLE, user_id=sasha.id, role=Role.ADMIN),
    ):
        reply = await head.press_forged(forged.pack())
        assert "Sasha" not in reply.text
    sasha = await user_row(db, 2003)
    assert sasha.is_active and sasha.role is Role.MANAGER
