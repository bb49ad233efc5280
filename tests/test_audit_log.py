"""📜 Audit log: admins page through it newest first in their own time zone, filter it by person
and by action, and export it with those filters; nobody else gets in."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.keyboards.callbacks import AuditLogCb, AuditLogView
from db.models import AuditEntry
from db.types import utcnow
from tests.conftest import Db, RunningBot
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.stories import add_department, admin_joins, colleague_joins, user_row

NINA, PETR = 3001, 2001
NO_ACCESS = "You don't have access to this."


async def company(fake: FakeTelegram) -> tuple[FakeUser, FakeUser, FakeUser]:
    admin = await admin_joins(fake)
    await add_department(admin, "North")
    nina = await colleague_joins(
        fake, admin, NINA, "Nina", role="head of department", department="North"
    )
    petr = await colleague_joins(fake, admin, PETR, "Petr", department="North")
    return admin, nina, petr


async def add_entries(db: Db, actor_id: int, action: str, count: int, **details) -> None:
    """`count` entries an hour apart, the newest an hour ago."""
    now = utcnow()
    async with db.session_factory() as session:
        for n in range(count):
            session.add(
                AuditEntry(
                    actor_id=actor_id,
                    action=action,
                    object_type="user",
                    object_id=actor_id,
                    details=details,
                    created_at=now - timedelta(hours=n + 1),
                )
            )
        await session.commit()


def local(entry: AuditEntry) -> str:
    return f"{entry.created_at.astimezone(ZoneInfo('Europe/Moscow')):%d.%m.%Y %H:%M}"


async def test_admin_pages_through_the_log_newest_first_and_filters_it(
    fake: FakeTelegram, bot: RunningBot, db: Db
):
    admin, _nina, _petr = await company(fake)
    nina, petr = await user_row(db, NINA), await user_row(db, PETR)
    await add_entries(db, nina.id, "plan_set", 12, month="2026-11")
    async with db.session_factory() as session:
        session.add(
            AuditEntry(
                actor_id=None,
                action="role_changed",
                object_type="user",
                object_id=petr.id,
                details={"old": "manager", "new": "head"},
                created_at=utcnow() - timedelta(days=3),
            )
        )
        await session.commit()
    total = len(await db.all(select(AuditEntry)))
    newest = await db.scalar(
        select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(1)
    )

    await admin.tap("🛠 Admin")
    reply = await admin.press("📜 Audit log")
    assert f"newest first. Entries: {total}." in reply.text
    first_entry = reply.text.split("\n\n")[1]
    assert first_entry.startswith(local(newest) + " · Petr")  # Petr joined last
    assert "invite used" in first_entry
    pages = (total + 7) // 8
    assert f"1/{pages}" in admin.last.button_labels()

    reply = await admin.press("▶")
    assert f"2/{pages}" in admin.last.button_labels()
    for _ in range(pages - 2):
        reply = await admin.press("▶")
    # The oldest entry, on the last page: done by nobody, about Petr, with its details.
    oldest = f"the system\nrole changed · user #{petr.id} Petr\nold: manager, new: head"
    assert oldest in reply.text

    # 👤 whose entries → Nina
    await admin.press("👤 everyone")
    assert {"Nina", "Petr", "Olga Admin"} <= set(admin.last.button_labels())
    reply = await admin.press("Nina")
    assert "Entries: 13." in reply.text and "Who: Nina; what: any action" in reply.text
    assert reply.text.count("· Nina") == 8  # a page of her entries only
    assert "plan set · user" in reply.text and "month: 2026-11" in reply.text

    # 🏷 which action → "invite used" (still Nina's): one entry, her joining
    await admin.press("🏷 any action")
    reply = await admin.press("invite used")
    assert "Entries: 1." in reply.text and "what: invite used" in reply.text

    # Everyone again, same action: the three colleagues who joined
    await admin.press("👤 Nina")
    reply = await admin.press("Everyone")
    assert "Entries: 2." in reply.text  # Nina's and Petr's invites


async def test_admin_exports_the_log_with_its_filters(fake: FakeTelegram, bot: RunningBot, db: Db):
    admin, _nina, _petr = await company(fake)
    petr = await user_row(db, PETR)
    await add_entries(db, petr.id, "plan_set", 3, note="=cmd|' /C calc'!A0")

    await admin.command("audit")
    await admin.press("👤 everyone")
    await admin.press("Petr")
    await admin.press("🏷 any action")
    await admin.press("plan set")
    reply = await admin.press("📤 Export")
    assert "with the log's filters" in reply.text
    await admin.press("This year")
    reply = await admin.press("📄 CSV")

    sent = next(m for m in reply.messages if m.kind == "document")
    assert sent.file_name.startswith("audit_log_") and sent.file_name.endswith("_olga-admin.csv")
    rows = list(csv.DictReader(io.StringIO(sent.file_bytes.decode("utf-8-sig"))))
    assert len(rows) == 3
    assert {(row["actor"], row["action"]) for row in rows} == {("Petr", "plan_set")}
    assert all(row["details"].startswith("{") for row in rows)  # JSON, not a formula

    exported = await db.scalar(select(AuditEntry).where(AuditEntry.action == "exported"))
    assert exported.object_type == "audit"
    assert exported.details["user_id"] == petr.id and exported.details["action"] == "plan_set"
    assert exported.details["rows"] == 3

    # The export itself is now in the log.
    reply = await admin.command("audit")
    assert "export · Audit log" in reply.text


async def test_nobody_but_admins_reads_the_log(fake: FakeTelegram, bot: RunningBot, db: Db):
    _admin, nina, petr = await company(fake)
    assert NO_ACCESS in (await nina.command("audit")).text
    for user in (nina, petr):
        for forged in (
            AuditLogCb(view=AuditLogView.PAGE),
            AuditLogCb(view=AuditLogView.USERS),
            AuditLogCb(view=AuditLogView.ACTIONS, user=1),
        ):
            reply = await user.press_forged(forged.pack())
            assert NO_ACCESS in (reply.callback_answer or {}).get("text", "")
            assert "Audit log" not in reply.text
