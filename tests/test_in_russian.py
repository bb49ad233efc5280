"""The default language is Russian: the main stories once more, as a Russian-speaking manager
sees them (button labels, questions, dates)."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Client, Interaction, InteractionKind
from tests.stories import add_department, admin_joins, colleague_joins


async def test_a_russian_manager_adds_a_client_and_logs_a_call(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Продажи")
    petr = await colleague_joins(fake, admin, 2002, "Пётр", department="Продажи", language="ru")

    await petr.tap("👤 Клиенты")
    await petr.press("➕ Новый клиент")
    reply = await petr.send("ООО «Ромашка»")
    assert "компания или частное лицо" in reply.text
    await petr.press("компания")
    reply = await petr.send("не телефон")
    assert "Это не похоже на номер телефона" in reply.text
    await petr.send("+7 912 345-67-89")
    for _ in range(4):
        await petr.press("Пропустить ➡️")
    reply = await petr.press("💾 Сохранить")
    assert "Клиент сохранён ✅" in reply.text

    await petr.tap("📝 Записать контакт")
    reply = await petr.press("🏢 ООО «Ромашка»")
    await petr.press("📞 Звонок")
    await petr.send("Обсудили поставку на декабрь")
    reply = await petr.press("📅 Следующий шаг")
    await petr.send("Отправить КП")
    reply = await petr.send("завтра в 10")
    assert "Следующий шаг" in reply.text and "10:00" in reply.text
    reply = await petr.press("💾 Сохранить")
    assert "Сохранено ✅" in reply.text

    client = await db.scalar(select(Client))
    call = await db.scalar(select(Interaction))
    assert (call.client_id, call.kind, call.summary) == (
        client.id,
        InteractionKind.CALL,
        "Обсудили поставку на декабрь",
    )
    assert call.next_step == "Отправить КП"
    assert call.next_step_due_at.hour == 7  # 10:00 in Moscow is 07:00 UTC
