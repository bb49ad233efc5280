"""Flows: a restart in the middle loses nothing; bad input gets the same question again;
Cancel and Back work everywhere."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Department, DepartmentKind, ReferenceItem, ReferenceKind
from tests.stories import add_department, admin_joins, start_adding_department, user_row


async def departments(db) -> list[tuple[str, DepartmentKind]]:
    rows = await db.all(select(Department).order_by(Department.id))
    return [(d.name, d.kind) for d in rows]


async def test_restart_in_the_middle_of_a_flow_loses_nothing(fake, bot, db):
    admin = await admin_joins(fake)
    await start_adding_department(admin)
    await admin.send("Service East")
    assert "What kind of department is “Service East”?" in admin.last.text

    await bot.restart()

    reply = await admin.press("service")
    assert "Department “Service East” added." in reply.text
    assert await departments(db) == [("Service East", DepartmentKind.SERVICE)]


async def test_unexpected_input_gets_a_hint_and_the_same_question(fake, bot, db):
    admin = await admin_joins(fake)
    await start_adding_department(admin)

    reply = await admin.send_sticker()
    assert "Please answer with a text message." in reply.text
    assert reply.last.text == "Name of the new department?"

    reply = await admin.send("x" * 101)
    assert "Too long: at most 100 characters." in reply.text
    assert reply.last.text == "Name of the new department?"

    await admin.send("Sales <West> & Co")
    reply = await admin.send("typed instead of tapping")
    assert "Please choose one of the buttons below." in reply.text
    assert "What kind of department is “Sales &lt;West&gt; &amp; Co”?" in reply.last.html

    await admin.press("sales")
    assert await departments(db) == [("Sales <West> & Co", DepartmentKind.SALES)]


async def test_back_returns_to_the_previous_step_with_what_was_typed(fake, bot, db):
    admin = await admin_joins(fake)
    await start_adding_department(admin)
    await admin.send("Sales Wets")

    reply = await admin.press("← Back")
    assert reply.last.text == "Name of the new department?"
    await admin.send("Sales West")
    await admin.press("marketing")
    assert await departments(db) == [("Sales West", DepartmentKind.MARKETING)]


async def test_cancel_leaves_any_flow(fake, bot, db):
    admin = await admin_joins(fake)
    await start_adding_department(admin)
    await admin.send("Half-typed")

    reply = await admin.press("✖ Cancel")
    assert "Cancelled." in reply.text
    reply = await admin.send("Service")
    assert "I didn't get that" in reply.text
    assert await departments(db) == []

    await admin.command("invite")
    reply = await admin.command("cancel")
    assert "Cancelled." in reply.text
    assert admin.reply_keyboard is not None


async def test_stale_buttons_are_answered_not_acted_on(fake, bot, db):
    admin = await admin_joins(fake)
    await admin.tap("⚙️ Settings")
    await admin.press("🕒 Time zone")
    question = admin.last
    await admin.send("asia/omsk")

    reply = await admin.press("Moscow (UTC+3)", message=question)
    assert reply.callback_answer is not None
    assert reply.callback_answer.get("text") == "This button is no longer active."
    assert (await user_row(db, admin.id)).timezone == "Asia/Omsk"


async def test_reference_lists_add_rename_archive(fake, bot, db):
    admin = await admin_joins(fake)
    await admin.tap("🛠 Admin")
    await admin.press("🗺 Regions")
    await admin.press("➕ Add")
    await admin.send("Москва")
    reply = await admin.send("москва")
    assert "“москва” is already in the list." in reply.text  # Cyrillic compared case-blind
    await admin.send("Казань")
    reply = await admin.press("✅ Done")
    assert "Regions</b>: 2" in reply.last.html

    await admin.press("Казань")
    await admin.press("✏️ Rename")
    reply = await admin.send("Kazan")
    assert "Renamed." in reply.text
    reply = await admin.press("🗄 Archive")
    assert "hidden from pickers" in reply.text

    items = await db.all(select(ReferenceItem).order_by(ReferenceItem.id))
    assert [(i.kind, i.name, i.archived) for i in items] == [
        (ReferenceKind.REGION, "Москва", False),
        (ReferenceKind.REGION, "Kazan", True),
    ]


async def test_a_photo_where_a_choice_is_asked_gets_a_hint(fake, bot, db):
    admin = await admin_joins(fake)
    await admin.command("invite")

    reply = await admin.send_photo(caption="manager")
    assert "Please choose one of the buttons below." in reply.text
    assert reply.last.text == "Who are you inviting? Pick the role:"


async def test_archived_department_leaves_the_invite_picker_but_keeps_its_people(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Old Sales")
    await add_department(admin, "New Sales")
    await admin.press("Old Sales")
    await admin.press("✏️ Rename")
    await admin.send("Sales 2019")
    reply = await admin.press("🗄 Archive")
    assert "hidden from pickers" in reply.text

    await admin.command("invite")
    reply = await admin.press("manager")
    assert "New Sales" in reply.last.button_labels()
    assert "Sales 2019" not in reply.last.button_labels()
    names = {d.name: d.archived for d in await db.all(select(Department))}
    assert names == {"Sales 2019": True, "New Sales": False}


async def test_a_menu_button_in_the_middle_of_a_question_opens_that_section(fake, bot, db):
    admin = await admin_joins(fake)
    await start_adding_department(admin)

    reply = await admin.tap("📝 Log contact")
    assert "Which client?" in reply.text
    reply = await admin.tap("✅ Tasks")
    assert "Your tasks" in reply.text
    assert await departments(db) == []
