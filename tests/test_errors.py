"""When things go wrong: the user is told in their language, nothing they typed is lost."""

from __future__ import annotations

import logging

from sqlalchemy import insert, select

from bot.services import catalog
from db.models import Department, ReferenceItem, ReferenceKind
from tests.stories import admin_joins, start_adding_department


async def at_department_kind_step(admin) -> None:
    await start_adding_department(admin)
    await admin.send("Service East")


async def test_a_crash_is_logged_and_the_user_can_carry_on(fake, bot, db, monkeypatch, caplog):
    admin = await admin_joins(fake)
    await at_department_kind_step(admin)
    real_add = catalog.add_department

    async def broken_once(*args, **kwargs):
        monkeypatch.setattr(catalog, "add_department", real_add)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(catalog, "add_department", broken_once)

    with caplog.at_level(logging.ERROR):
        reply = await admin.press("service")
    assert "something went wrong on our side. What you entered is kept" in (
        reply.callback_answer or {}
    ).get("text", "")
    failure = next(r for r in caplog.records if "failed" in r.getMessage())
    assert f"update {reply.update_id} failed" == failure.getMessage()
    assert "disk on fire" in caplog.text  # the traceback is in the log, not in the chat
    assert "disk on fire" not in reply.text

    reply = await admin.press("service")  # same question, same typed name
    assert "Department “Service East” added." in reply.text
    assert [d.name for d in await db.all(select(Department))] == ["Service East"]


async def test_a_crash_is_told_in_the_users_language(fake, bot, monkeypatch):
    admin = await admin_joins(fake, language="ru")

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(catalog, "departments", broken)
    await admin.tap("🛠 Админ")
    reply = await admin.press("🏢 Отделы")
    assert "что-то пошло не так" in (reply.callback_answer or {}).get("text", "")


async def test_flood_control_is_waited_out_and_the_reply_arrives(fake, bot):
    admin = await admin_joins(fake)
    fake.fail_next("sendMessage", retry_after=1)

    reply = await admin.tap("❓ Help")

    assert "FieldCRM in short" in reply.text
    assert [c.ok for c in reply.calls if c.method == "sendMessage"] == [False, True]


async def test_editing_to_the_same_content_is_not_an_error(fake, bot, db, caplog):
    for n in range(9):  # two pages of eight
        await db.execute(insert(ReferenceItem).values(kind=ReferenceKind.REGION, name=f"R{n}"))
    admin = await admin_joins(fake)
    await admin.tap("🛠 Admin")
    await admin.press("🗺 Regions")

    with caplog.at_level(logging.ERROR):
        reply = await admin.press("1/2")  # the page already shown

    assert any("message is not modified" in (c.error or "") for c in reply.calls)
    assert "something went wrong" not in reply.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    reply = await admin.press("▶")
    assert "R8" in admin.last.button_labels()


async def test_a_user_who_blocked_the_bot_is_not_an_error(fake, bot, caplog):
    admin = await admin_joins(fake)
    fake.block(admin.id)

    with caplog.at_level(logging.INFO):
        reply = await admin.tap("❓ Help")

    assert reply.errors and all(c.error.startswith("Forbidden") for c in reply.errors)
    assert "has blocked the bot" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
