"""Steps people take again and again in the stories, so each test reads as its own story."""

from __future__ import annotations

import re

from sqlalchemy import select

from db.models import User
from tests.conftest import ADMIN_ID, Db
from tests.fake_telegram import FakeTelegram, FakeUser

LINK = re.compile(r"https://t\.me/(\w+)\?start=([A-Za-z0-9_-]+)")


async def admin_joins(fake: FakeTelegram, *, language: str = "en") -> FakeUser:
    admin = fake.user(ADMIN_ID, "Olga", last_name="Admin", language_code=language)
    await admin.command("start")
    return admin


async def start_adding_department(admin: FakeUser) -> None:
    """🛠 Admin → 🏢 Departments → ➕ Add: the bot now asks for the name."""
    await admin.tap("🛠 Admin")
    await admin.press("🏢 Departments")
    await admin.press("➕ Add")


async def add_department(admin: FakeUser, name: str, kind: str = "sales") -> None:
    await start_adding_department(admin)
    await admin.send(name)
    await admin.press(kind)


async def colleague_joins(
    fake: FakeTelegram,
    admin: FakeUser,
    telegram_id: int,
    name: str,
    *,
    role: str = "manager",
    department: str = "Sales",
    language: str = "en",
) -> FakeUser:
    """The admin makes an invite; the colleague opens it and is in (said, or the story stops
    here with what the bot answered instead)."""
    link = await invite_link(admin, role, department)
    colleague = fake.user(telegram_id, name, language_code=language)
    reply = await colleague.command("start", code_of(link))
    welcomed = ("Welcome, ", "Добро пожаловать, ")
    assert any(word in (m.text or "") for m in reply.messages for word in welcomed), (
        link,
        [m.text for m in reply.messages],
    )
    return colleague


async def invite_link(
    admin: FakeUser, role: str, department: str | None, days: str = "7 d."
) -> str:
    await admin.command("invite")
    await admin.press(role)
    if department is not None:
        await admin.press(department)
    reply = await admin.press(days)
    match = LINK.search(reply.text)
    assert match, reply.text
    return match.group(0)


def code_of(link: str) -> str:
    match = LINK.search(link)
    assert match
    return match.group(2)


async def user_row(db: Db, telegram_id: int) -> User | None:
    return await db.scalar(select(User).where(User.telegram_id == telegram_id))
