"""Exports: a head takes their department's data, an admin the company's, as XLSX or CSV; the
daily limit; formula injection; every export audited and announced; managers refused."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.config import Settings
from bot.keyboards.callbacks import ExportCb
from bot.services import exports, parsing
from bot.services.exports import ExportPeriod, neutralize, period_days
from db.models import (
    AuditEntry,
    Client,
    ClientKind,
    Complaint,
    ComplaintSeverity,
    Deal,
    DealStage,
    Interaction,
    InteractionKind,
    OutboxMessage,
)
from db.types import utcnow
from tests.conftest import ADMIN_ID, Db, RunningBot
from tests.fake_telegram import FakeTelegram, FakeUser, Reply, SentMessage
from tests.stories import add_department, admin_joins, colleague_joins, user_row

NINA, PETR, SASHA = 3001, 2001, 2002
PER_DAY = 4
NO_ACCESS = "You don't have access to this."


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"exports_per_day": PER_DAY})


async def company(fake: FakeTelegram) -> tuple[FakeUser, FakeUser, FakeUser, FakeUser]:
    """Olga (admin); Nina heads North, where Petr works; Sasha works in South."""
    admin = await admin_joins(fake)
    await add_department(admin, "North")
    await add_department(admin, "South")
    nina = await colleague_joins(
        fake, admin, NINA, "Nina", role="head of department", department="North"
    )
    petr = await colleague_joins(fake, admin, PETR, "Petr", department="North")
    sasha = await colleague_joins(fake, admin, SASHA, "Sasha", department="South")
    return admin, nina, petr, sasha


async def add_client(db: Db, owner: FakeUser, name: str, **fields) -> int:
    row = await user_row(db, owner.id)
    async with db.session_factory() as session:
        client = Client(
            name=name,
            name_key=parsing.normalize_name(name),
            search_text=parsing.search_key(name),
            kind=ClientKind.COMPANY,
            owner_id=row.id,
            **fields,
        )
        session.add(client)
        await session.commit()
        return client.id


async def add_records(db: Db, owner: FakeUser, client_id: int, what: str) -> None:
    """A deal, a complaint and a contact logged about the client, each named by `what`."""
    row = await user_row(db, owner.id)
    async with db.session_factory() as session:
        session.add(
            Deal(
                client_id=client_id,
                owner_id=row.id,
                title=f"{what} deal",
                amount_minor=1_500_050,
                currency="RUB",
                stage=DealStage.PROPOSAL,
            )
        )
        session.add(
            Complaint(
                client_id=client_id,
                severity=ComplaintSeverity.HIGH,
                description=f"{what} complaint",
                reporter_id=row.id,
                sla_due_at=utcnow() + timedelta(days=1),
            )
        )
        session.add(
            Interaction(
                client_id=client_id,
                author_id=row.id,
                kind=InteractionKind.CALL,
                summary=f"{what} call",
            )
        )
        await session.commit()


def document(reply: Reply) -> SentMessage:
    documents = [m for m in reply.messages if m.kind == "document"]
    assert len(documents) == 1, reply.text
    return documents[0]


def csv_rows(message: SentMessage) -> list[dict[str, str]]:
    assert message.file_bytes is not None
    assert message.file_bytes.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads UTF-8 right
    return list(csv.DictReader(io.StringIO(message.file_bytes.decode("utf-8-sig"))))


def xlsx_rows(message: SentMessage) -> list[dict[str, object]]:
    assert message.file_bytes is not None
    sheet = load_workbook(io.BytesIO(message.file_bytes)).active
    rows = list(sheet.iter_rows(values_only=True))
    headers = rows[0]
    return [dict(zip(headers, row, strict=True)) for row in rows[1:]]


async def export(user: FakeUser, what: str, period: str, fmt: str) -> Reply:
    await user.command("export")
    await user.press(what)
    await user.press(period)
    return await user.press(fmt)


async def exports_logged(db: Db) -> list[AuditEntry]:
    return await db.all(
        select(AuditEntry).where(AuditEntry.action == "exported").order_by(AuditEntry.id)
    )


async def test_a_head_exports_their_departments_clients_as_csv_and_xlsx(
    fake: FakeTelegram, bot: RunningBot, db: Db
):
    admin, nina, petr, sasha = await company(fake)
    await add_client(db, petr, "Alpha LLC", phone="+79991234567", email="alpha@example.com")
    await add_client(db, petr, '=HYPERLINK("http://evil.example","Click")')
    await add_client(db, sasha, "Southern Star")

    # 👥 Team → 📤 Export → 👤 Clients → This month → 📄 CSV
    await nina.tap("👥 Team")
    reply = await nina.press("📤 Export")
    assert "your department" in reply.text and f"{PER_DAY} of {PER_DAY}" in reply.text
    await nina.press("👤 Clients")
    await nina.press("This month")
    reply = await nina.press("📄 CSV")

    sent = document(reply)
    assert re.fullmatch(r"clients_\d{4}-\d{2}-\d{2}_\d{4}_nina\.csv", sent.file_name or "")
    assert "2 rows" in sent.caption
    rows = csv_rows(sent)
    names = {row["name"] for row in rows}
    assert names == {"Alpha LLC", """'=HYPERLINK("http://evil.example","Click")"""}
    assert "Southern Star" not in sent.file_bytes.decode("utf-8-sig")  # another department's
    alpha = next(row for row in rows if row["name"] == "Alpha LLC")
    assert alpha["phone"] == "'+79991234567"  # a leading + is a formula to a spreadsheet
    assert alpha["owner"] == "Petr" and alpha["department"] == "North"
    call = next(c for c in reply.calls if c.method == "sendDocument")
    assert call.params.get("protect_content") in (True, "true")

    # /export → the same as XLSX, which opens in a spreadsheet
    reply = await export(nina, "👤 Clients", "Last 3 months", "📊 Excel (XLSX)")
    sent = document(reply)
    assert sent.file_name.endswith("_nina.xlsx")
    rows = xlsx_rows(sent)
    assert {row["name"] for row in rows} == names
    sheet = load_workbook(io.BytesIO(sent.file_bytes)).active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)

    logged = await exports_logged(db)
    nina_row = await user_row(db, NINA)
    assert [(e.actor_id, e.object_type) for e in logged] == [(nina_row.id, "clients")] * 2
    assert logged[0].details["rows"] == 2 and logged[0].details["format"] == "csv"
    assert logged[0].details["period"] == "tm"
    assert logged[0].details["department_id"] == nina_row.department_id
    assert logged[1].details["file"] == sent.file_name

    # The admin hears of both, in their language, through the outbox.
    await bot.sweep()
    told = [m.text for m in admin.messages if m.text and "exported" in m.text]
    assert len(told) == 2
    assert "Nina exported Clients" in told[0] and "2 rows, CSV" in told[0]


async def test_an_admin_exports_each_kind_for_the_whole_company(
    fake: FakeTelegram, bot: RunningBot, db: Db, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(exports, "CHUNK", 1)  # rows are read a chunk at a time: many chunks
    admin, _nina, petr, sasha = await company(fake)
    north = await add_client(db, petr, "Alpha LLC")
    south = await add_client(db, sasha, "Southern Star")
    await add_records(db, petr, north, "North")
    await add_records(db, sasha, south, "South")

    reply = await admin.tap("🛠 Admin")
    reply = await admin.press("📤 Export")
    assert "the whole company" in reply.text

    expected = {
        "👤 Clients": ("name", {"Alpha LLC", "Southern Star"}),
        "💼 Deals": ("title", {"North deal", "South deal"}),
        "⚠️ Complaints": ("description", {"North complaint", "South complaint"}),
        "📝 Contacts logged": ("summary", {"North call", "South call"}),
    }
    for label, (column, values) in expected.items():
        reply = await export(admin, label, "Last 3 months", "📊 Excel (XLSX)")
        rows = xlsx_rows(document(reply))
        assert {row[column] for row in rows} == values, label
        if column == "title":
            assert {row["amount"] for row in rows} == {15000.5}  # money, not kopecks
            assert {row["stage"] for row in rows} == {"proposal"}
    assert [e.object_type for e in await exports_logged(db)][:3] == [
        "clients",
        "deals",
        "complaints",
    ]

    # Nobody else is an admin: nobody is told (an admin is never told of their own export).
    assert not await db.all(select(OutboxMessage).where(OutboxMessage.chat_id == ADMIN_ID))


async def test_at_most_n_exports_a_day(fake: FakeTelegram, bot: RunningBot, db: Db):
    _admin, nina, petr, _sasha = await company(fake)
    await add_client(db, petr, "Alpha LLC")

    for _ in range(PER_DAY):
        document(await export(nina, "👤 Clients", "Last 3 months", "📄 CSV"))
    reply = await nina.command("export")
    assert f"0 of {PER_DAY}" in reply.text
    await nina.press("👤 Clients")
    await nina.press("Last 3 months")
    reply = await nina.press("📄 CSV")

    assert not [m for m in reply.messages if m.kind == "document"]
    assert f"all {PER_DAY} exports" in (reply.callback_answer or {}).get("text", "")
    assert len(await exports_logged(db)) == PER_DAY
    hit = await db.all(select(AuditEntry).where(AuditEntry.action == "export_limit_hit"))
    assert len(hit) == 1 and hit[0].details == {"limit": PER_DAY}

    bot.clock.advance(days=1)  # a new day: exports again
    document(await export(nina, "👤 Clients", "Last 3 months", "📄 CSV"))


async def test_nothing_to_export_is_said_and_not_counted(
    fake: FakeTelegram, bot: RunningBot, db: Db
):
    _admin, nina, _petr, _sasha = await company(fake)
    reply = await export(nina, "💼 Deals", "Last month", "📄 CSV")
    assert "Nothing to export for this period." in reply.text
    assert "This month" in reply.last.button_labels()  # pick another period
    assert not await exports_logged(db)


async def test_managers_cannot_export_even_with_forged_buttons(
    fake: FakeTelegram, bot: RunningBot, db: Db
):
    _admin, nina, petr, sasha = await company(fake)
    await add_client(db, petr, "Alpha LLC")

    assert NO_ACCESS in (await petr.command("export")).text
    for forged in (
        ExportCb(),
        ExportCb(kind="clients"),
        ExportCb(kind="clients", period="tm", fmt="csv"),
        ExportCb(kind="audit", period="ty", fmt="xlsx"),
        ExportCb(kind="nonsense", period="??", fmt="pdf"),
    ):
        reply = await sasha.press_forged(forged.pack())
        assert not [m for m in reply.messages if m.kind == "document"]
        assert NO_ACCESS in (reply.callback_answer or {}).get("text", "")
    # A head cannot export the audit log either.
    reply = await nina.press_forged(ExportCb(kind="audit", period="ty", fmt="csv").pack())
    assert NO_ACCESS in (reply.callback_answer or {}).get("text", "")
    assert not await exports_logged(db)
    assert not [c for c in fake.calls if c.method == "sendDocument"]


def test_formula_cells_are_neutralized():
    for dangerous in ("=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralize(dangerous).startswith("'"), dangerous
    assert neutralize("Alpha = Beta") == "Alpha = Beta"
    assert neutralize("a\x00b") == "ab"  # control characters XLSX cannot hold


def test_periods_are_whole_local_months():
    today = date(2026, 1, 15)
    assert period_days(ExportPeriod.THIS_MONTH, today) == (date(2026, 1, 1), date(2026, 1, 31))
    assert period_days(ExportPeriod.LAST_MONTH, today) == (date(2025, 12, 1), date(2025, 12, 31))
    assert period_days(ExportPeriod.LAST_3_MONTHS, today) == (
        date(2025, 11, 1),
        date(2026, 1, 31),
    )
    assert period_days(ExportPeriod.THIS_YEAR, today) == (date(2026, 1, 1), date(2026, 12, 31))


def test_file_names_are_ascii():
    assert exports.ascii_slug("Ольга Админ", "user1") == "olga-admin"
    assert exports.ascii_slug("Olga Admin", "user1") == "olga-admin"
    assert exports.ascii_slug("🙂", "user7") == "user7"
