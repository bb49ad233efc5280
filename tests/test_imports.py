"""Importing clients: an admin sends a CSV or XLSX file, sees a preview with the bad rows and
the duplicates, and only ✅ Import writes the good rows, all at once."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook
from sqlalchemy import event, func, insert, select

from bot.keyboards.callbacks import ImportAction, ImportCb
from bot.services import imports, parsing
from bot.services.audit import AuditAction
from bot.services.errors import AccessDenied, InvalidInput
from db.models import AuditEntry, Client, ClientStatus, ReferenceItem, ReferenceKind, Role, User
from tests.stories import add_department, admin_joins, colleague_joins, user_row

INN_A = "7707083893"  # valid check digits
INN_B = "7736207543"
INN_12 = "500100732259"
LIMIT = 64 * 1024  # IMPORT_MAX_BYTES in these stories


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"import_max_bytes": LIMIT})


def csv_file(rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_file(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def company(fake, db):
    """An admin, a Sales department with Petr (@petrov), a region and an industry."""
    fake.user(2002, "Petr", last_name="Petrov", username="petrov", language_code="en")
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    petr = await colleague_joins(fake, admin, 2002, "Petr Petrov")
    await db.execute(insert(ReferenceItem).values(kind=ReferenceKind.REGION, name="Москва"))
    await db.execute(insert(ReferenceItem).values(kind=ReferenceKind.INDUSTRY, name="Retail"))
    return admin, petr


async def send_for_import(admin, name: str, data: bytes):
    """🛠 Admin → 📥 Import clients → the file as a document: the bot's reply (the preview)."""
    await admin.tap("🛠 Admin")
    reply = await admin.press("📥 Import clients")
    assert "CSV or XLSX" in reply.text
    return await admin.send_document(name, data=data)


async def clients(db) -> list[Client]:
    return await db.all(select(Client).order_by(Client.id))


async def imports_audited(db) -> list[AuditEntry]:
    return await db.all(select(AuditEntry).where(AuditEntry.action == AuditAction.IMPORT))


# The stories


async def test_admin_imports_a_csv_with_russian_headers(fake, bot, db):
    admin, _petr = await company(fake, db)
    data = csv_file(
        [
            ["Название", "Телефон", "E-mail", "ИНН", "Регион", "Отрасль", "Менеджер", "Примечание"],
            ["ООО «Ромашка»", "8 912 345-67-89", "Info@Romashka.ru", INN_A, "москва", "retail",
             "Petr Petrov", "Звонить после 10"],
            ["Берёзка", "+7 495 123 45 67", "", "", "", "", "@petrov", ""],
            ["ИП Сидоров", "", "sidorov@mail.ru", INN_12, "Москва", "", "2002", ""],
            ["Acme", "", "", "", "", "", "", ""],
        ]
    )  # fmt: skip

    reply = await send_for_import(admin, "клиенты.csv", data)

    preview = reply.last
    assert "Import from клиенты.csv" in preview.text
    assert "Rows: 4. Ready to import: 4. With errors: 0. Duplicates: 0." in preview.text
    assert "A “Название” → name" in preview.text and "G “Менеджер” → owner" in preview.text
    assert "H “Примечание” → notes" in preview.text
    assert "Rows without an owner (1) will be yours, Olga Admin." in preview.text
    assert "2. ООО «Ромашка» · +79123456789 · Petr Petrov" in preview.text
    assert "Nothing is saved until you tap ✅" in preview.text
    assert await clients(db) == []  # a preview writes nothing

    reply = await admin.press("✅ Import clients: 4")

    assert "Clients imported from клиенты.csv: 4 of 4 rows." in reply.text
    assert preview.message_id in [edit.message_id for edit in reply.edits]  # buttons gone
    saved = {client.name: client for client in await clients(db)}
    romashka = saved["ООО «Ромашка»"]
    assert (romashka.phone, romashka.phone_digits, romashka.email, romashka.inn) == (
        "+79123456789",
        "79123456789",
        "info@romashka.ru",
        INN_A,
    )
    assert romashka.name_key == "ромашка" and romashka.search_text == "ооо ромашка"
    assert romashka.region.name == "Москва" and romashka.industry.name == "Retail"
    assert romashka.notes == "Звонить после 10" and romashka.status is ClientStatus.LEAD
    assert romashka.owner.full_name == "Petr Petrov"
    assert saved["Берёзка"].owner.full_name == "Petr Petrov"  # by @username
    assert saved["ИП Сидоров"].owner.full_name == "Petr Petrov"  # by Telegram id
    assert saved["Acme"].owner.full_name == "Olga Admin"  # no owner: the importing admin
    admin_row = await user_row(db, admin.id)
    assert {client.created_by_id for client in saved.values()} == {admin_row.id}
    [entry] = await imports_audited(db)
    assert entry.actor_id == admin_row.id
    assert entry.details["imported"] == 4 and entry.details["rows"] == 4
    assert entry.details["bad"] == 0 and entry.details["duplicates"] == 0
    assert entry.details["file"] == "клиенты.csv" and len(entry.details["sha256"]) == 64


async def test_english_headers_in_an_xlsx_with_numbers_as_numbers(fake, bot, db):
    admin, _petr = await company(fake, db)
    data = xlsx_file(
        [
            ["Company", "Phone", "Email", "INN", "Region", "Industry", "Owner", "Notes"],
            ["Acme LLC", 79123456789, "sales@acme.com", int(INN_A), "Москва", "Retail",
             "@petrov", None],
            ["Globex", None, None, 7736207543.0, None, None, None, "Big one"],
            [None, None, None, None, None, None, None, None],  # a blank row is skipped
            ["Initech", "+1 212 555 0100", None, None, None, None, "Petr Petrov", None],
        ]
    )  # fmt: skip

    reply = await send_for_import(admin, "Clients.XLSX", data)

    assert "Rows: 3. Ready to import: 3." in reply.text
    assert "A “Company” → name" in reply.text and "D “INN” → INN" in reply.text
    reply = await admin.press("✅ Import clients: 3")
    assert "Clients imported from Clients.XLSX: 3 of 3 rows." in reply.text
    saved = {client.name: client for client in await clients(db)}
    assert saved["Acme LLC"].phone == "+79123456789" and saved["Acme LLC"].inn == INN_A
    assert saved["Acme LLC"].name_key == "acme"
    assert saved["Globex"].inn == INN_B and saved["Globex"].notes == "Big one"
    assert saved["Initech"].phone == "+12125550100"


async def test_a_cp1251_csv_with_semicolons(fake, bot, db):
    admin, _petr = await company(fake, db)
    data = csv_file(
        [["Наименование", "Телефон", "Регион"], ["Ёлочка", "8(912)000-11-22", "Москва"]],
        delimiter=";",
        encoding="cp1251",
    )
    assert data.decode("cp1251").count(";") == 4  # and it is not UTF-8
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")

    reply = await send_for_import(admin, "export.csv", data)

    assert "Ready to import: 1." in reply.text and "Ёлочка" in reply.text
    await admin.press("✅ Import clients: 1")
    [client] = await clients(db)
    assert (client.name, client.phone, client.region.name) == ("Ёлочка", "+79120001122", "Москва")


async def test_bad_rows_are_reported_with_row_numbers_and_reasons(fake, bot, db):
    admin, _petr = await company(fake, db)
    data = csv_file(
        [
            ["name", "phone", "inn", "region", "owner"],
            ["Good One", "+79120000001", INN_A, "", ""],
            ["Bad Phone", "12345", "", "", ""],
            ["Bad INN", "", "1234567890", "", ""],
            ["", "+79120000002", "", "", ""],
            [],
            ["Far Away", "", "", "Марс", ""],
            ["Nobody's", "", "", "", "Ivan Nobody"],
            ["Two Problems", "call me", "", "Марс", ""],
        ]
    )

    reply = await send_for_import(admin, "bad.csv", data)

    text = reply.last.text
    assert "Rows: 7. Ready to import: 1. With errors: 6. Duplicates: 0." in text
    assert "Rows with errors (skipped):" in text
    assert "3: bad phone “12345”" in text
    assert "4: bad INN “1234567890”" in text
    assert "5: no name" in text
    assert "7: region “Марс” is not in the list" in text  # the blank row 6 still counts
    assert "8: no active user “Ivan Nobody”" in text
    assert "9: bad phone “call me”; region “Марс” is not in the list" in text
    assert "Not in the list of regions: Марс (2)." in text

    reply = await admin.press("✅ Import clients: 1")

    assert "Skipped rows with errors: 6, duplicates: 0." in reply.text
    assert [client.name for client in await clients(db)] == ["Good One"]
    [entry] = await imports_audited(db)
    assert (entry.details["imported"], entry.details["bad"]) == (1, 6)


async def test_duplicates_within_the_file_and_against_the_base(fake, bot, db):
    admin, _petr = await company(fake, db)
    owner = await user_row(db, admin.id)
    await db.execute(
        insert(Client).values(
            name="ООО «Ромашка»",
            name_key=parsing.normalize_name("ООО «Ромашка»"),
            search_text=parsing.search_key("ООО «Ромашка»"),
            kind="company",
            owner_id=owner.id,
            email="old@base.ru",
        )
    )
    data = csv_file(
        [
            ["Название", "Телефон", "Email", "ИНН"],
            ["Ромашка", "", "", ""],  # the same name as a client in the base
            ["Новая", "", "OLD@base.ru", ""],  # the same e-mail as a client in the base
            ["Acme", "+79120000001", "", INN_A],
            ["Acme Trading", "8 912 000-00-01", "", ""],  # the same phone as row 4
            ["Beta", "", "", INN_A],  # the same INN as row 4
            ["ACME", "", "", ""],  # the same name as row 4
            ["Gamma", "", "", ""],
        ]
    )

    reply = await send_for_import(admin, "dups.csv", data)

    text = reply.last.text
    assert "Rows: 7. Ready to import: 2. With errors: 0. Duplicates: 5." in text
    assert "2: Ромашка: same name as the client “ООО «Ромашка»”" in text
    assert "3: Новая: same e-mail as the client “ООО «Ромашка»”" in text
    assert "5: Acme Trading: same phone as row 4" in text
    assert "6: Beta: same INN as row 4" in text
    assert "7: ACME: same name as row 4" in text

    reply = await admin.press("✅ Import clients: 2")

    assert "Skipped rows with errors: 0, duplicates: 5." in reply.text
    names = [client.name for client in await clients(db)]
    assert names == ["ООО «Ромашка»", "Acme", "Gamma"]


async def test_cancel_writes_nothing(fake, bot, db):
    admin, _petr = await company(fake, db)
    await send_for_import(admin, "a.csv", csv_file([["name"], ["Acme"]]))

    reply = await admin.press("✖ Cancel")

    assert "Cancelled" in reply.text
    assert await clients(db) == [] and await imports_audited(db) == []
    reply = await admin.send("Acme")  # no longer in the flow: a search, not an answer
    assert await clients(db) == []


async def test_a_second_tap_on_confirm_never_imports_twice(fake, bot, db):
    admin, _petr = await company(fake, db)
    reply = await send_for_import(admin, "a.csv", csv_file([["name"], ["Acme"], ["Beta"]]))
    preview = reply.last
    [confirm] = [
        button["callback_data"]
        for row in preview.inline_buttons()
        for button in row
        if button["text"] == "✅ Import clients: 2"
    ]

    first = await admin.press_forged(confirm, message=preview)
    second = await admin.press_forged(confirm, message=preview)

    assert "Clients imported from a.csv: 2 of 2 rows." in first.text
    assert second.callback_answer["text"] == "This button is no longer active."
    assert len(await clients(db)) == 2 and len(await imports_audited(db)) == 1


async def test_a_confirmation_already_in_the_audit_log_is_refused(fake, bot, db, session):
    """Even if the conversation state survived (a crash right after the commit), the token
    of the confirmed preview is in the audit log: the service refuses it."""
    admin, _petr = await company(fake, db)
    actor = await session.scalar(select(User).where(User.telegram_id == admin.id))
    data = csv_file([["name"], ["Acme"]])
    checked = await imports.preview(session, actor, data, "a.csv", max_bytes=LIMIT)
    arguments = dict(max_bytes=LIMIT, mapping=checked.mapping, expected_sha256=checked.sha256)

    result = await imports.import_clients(session, actor, data, "a.csv", token="t1", **arguments)
    assert result.imported == 1
    with pytest.raises(imports.AlreadyImported):
        await imports.import_clients(session, actor, data, "a.csv", token="t1", **arguments)
    again = await imports.import_clients(session, actor, data, "a.csv", token="t2", **arguments)
    assert (again.imported, again.duplicates) == (0, 1)  # and the rows are duplicates by then
    with pytest.raises(InvalidInput):
        await imports.import_clients(
            session, actor, data + b"\r\nBeta", "a.csv", token="t3", **arguments
        )


async def test_an_unknown_column_can_be_mapped_to_notes(fake, bot, db):
    admin, _petr = await company(fake, db)
    data = csv_file([["Название", "Телефон", "Доп. инфо"], ["Acme", "", "VIP, скидка 5%"]])

    reply = await send_for_import(admin, "a.csv", data)
    assert "C “Доп. инфо” → ignored" in reply.text

    reply = await admin.press("🔀 Columns")
    assert "Tap a column" in reply.text
    reply = await admin.press("C · Доп. инфо → ignored")
    assert "What does column C “Доп. инфо” hold?" in reply.text
    reply = await admin.press("notes")

    assert "C “Доп. инфо” → notes" in reply.text and "Ready to import: 1." in reply.text
    await admin.press("🔀 Columns")
    await admin.press("A · Название → name")
    reply = await admin.press("✖ Ignore")  # the name cannot go
    assert reply.callback_answer["text"] == "One column must hold the client's name."
    await admin.press("← Back")
    reply = await admin.press("← Back")
    assert "C “Доп. инфо” → notes" in reply.text
    await admin.press("✅ Import clients: 1")
    [client] = await clients(db)
    assert client.notes == "VIP, скидка 5%"


async def test_a_long_report_still_fits_one_message(fake, bot, db):
    admin, _petr = await company(fake, db)
    rows = [["name", "phone", "email"]] + [
        [f"Client number {n} with a rather long name", "not a phone", "not an e-mail"]
        for n in range(300)
    ]

    reply = await send_for_import(admin, "many.csv", csv_file(rows))

    assert not reply.errors
    text = reply.last.text
    assert len(text) <= 4096 and "With errors: 300." in text and "more." in text
    assert "There is nothing to import" in text
    assert "✅" not in "".join(reply.last.button_labels())


async def test_files_that_cannot_be_imported_are_refused_clearly(fake, bot, db):
    admin, _petr = await company(fake, db)
    await admin.tap("🛠 Admin")
    await admin.press("📥 Import clients")

    reply = await admin.send_document("clients.txt", data=b"name\nAcme\n")
    assert "only a CSV or XLSX table" in reply.text
    assert "Send a CSV or XLSX file" in reply.text  # and the question again

    reply = await admin.send_document("fake.xlsx", data=b"name\nAcme\n")
    assert "only a CSV or XLSX table" in reply.text

    reply = await admin.send_document("empty.csv", data=b"")
    assert "The file is empty" in reply.text
    reply = await admin.send_document("header-only.csv", data=b"name;phone\r\n;\r\n")
    assert "The file is empty" in reply.text

    reply = await admin.send_document("big.csv", data=b"name\n" + b"Acme\n" * (LIMIT // 5))
    assert "The file is too large: at most 0.1 MB." in reply.text

    reply = await admin.send_document("no-name.csv", data=csv_file([["Телефон"], ["+79120000001"]]))
    assert "No column with the client's name" in reply.text

    reply = await admin.send("what now?")
    assert "Please send the table as a file" in reply.text
    assert await clients(db) == [] and await imports_audited(db) == []

    reply = await admin.send_document("ok.csv", data=csv_file([["name"], ["Acme"]]))
    assert "Ready to import: 1." in reply.text  # still in the flow after refusals


async def test_managers_and_heads_cannot_import(fake, bot, db):
    admin, petr = await company(fake, db)
    head = await colleague_joins(fake, admin, 2005, "Hanna Head", role="head of department")
    start = ImportCb(action=ImportAction.START).pack()

    for user in (petr, head):
        reply = await user.press_forged(start)
        assert reply.callback_answer["text"] == "You don't have access to this."
        reply = await user.send_document("a.csv", data=csv_file([["name"], ["Acme"]]))
        assert "Ready to import" not in reply.text
    assert await clients(db) == []


# The service's parts


def test_headers_are_recognized_in_russian_and_english():
    headers = [
        "Наименование организации",
        "Tel",
        "Электронная почта",
        "ИНН",
        "Адрес",
        "Область",
        "Сфера",
        "Ответственный менеджер",
        "Комментарии",
        "Телефон мобильный",  # a second phone column: ignored
        "Прочее",
    ]
    assert imports.auto_mapping(headers) == [*imports.FIELDS, "", ""]
    assert imports.auto_mapping(["Company name", "E-mail", "Manager"]) == [
        "name",
        "email",
        "owner",
    ]


def test_csv_delimiters_and_encodings():
    for delimiter in (",", ";", "\t"):
        for encoding in ("utf-8", "utf-8-sig", "cp1251", "utf-16"):
            data = csv_file(
                [["Название", "Телефон"], ["Ромашка, ООО", "+79120000001"]],
                delimiter=delimiter,
                encoding=encoding,
            )
            table = imports.read_table(data, "a.csv", LIMIT)
            assert table.headers == ["Название", "Телефон"], (delimiter, encoding)
            assert table.rows == [(2, ["Ромашка, ООО", "+79120000001"])], (delimiter, encoding)


def test_a_lost_leading_zero_of_an_inn_is_put_back():
    table = imports.read_table(xlsx_file([["name", "inn"], ["A", 274062111]]), "a.xlsx", LIMIT)
    parsed = imports._parse_rows(table, ["name", "inn"])
    assert parsed[0].values["inn"] == "0274062111" and not parsed[0].problems


def test_empty_trailing_columns_are_dropped_and_too_many_left_out():
    table = imports.read_table(b"name,,\r\nAcme,,\r\n", "a.csv", LIMIT)
    assert table.headers == ["name"] and table.rows == [(2, ["Acme"])]
    wide = csv_file([[f"c{n}" for n in range(40)], ["x"] * 40])
    table = imports.read_table(wide, "w.csv", LIMIT)
    assert len(table.headers) == imports.MAX_COLUMNS and table.dropped_columns == 10


def test_only_admins_pass_the_service():
    manager = User(id=5, telegram_id=5, full_name="M", role=Role.MANAGER, is_active=True)
    with pytest.raises(AccessDenied):
        imports.check_document(manager, "a.csv", 10, LIMIT)


async def test_many_rows_use_few_queries(session):
    """The duplicate check asks the base per key kind in chunks, not per row."""
    admin = User(
        telegram_id=1, full_name="A", role=Role.ADMIN, locale="en", timezone="UTC", is_active=True
    )
    session.add(admin)
    await session.commit()
    rows = [["name", "phone", "email", "inn"]] + [
        [f"Client {n}", f"+7912{n:07d}", f"c{n}@example.com", ""] for n in range(3000)
    ]
    data = csv_file(rows)
    statements: list[str] = []
    sync_engine = session.bind.sync_engine

    def count(*args) -> None:
        statements.append(args[2])

    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        checked = await imports.preview(session, admin, data, "a.csv", max_bytes=1 << 22)
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    assert len(checked.good) == 3000
    assert len(statements) <= 3 + 4 * 4  # references, users; 4 keys in chunks of 900
    count_before = await session.scalar(select(func.count()).select_from(Client))
    result = await imports.import_clients(
        session,
        admin,
        data,
        "a.csv",
        max_bytes=1 << 22,
        mapping=checked.mapping,
        expected_sha256=checked.sha256,
        token="x",
    )
    assert result.imported == 3000
    assert await session.scalar(select(func.count()).select_from(Client)) == count_before + 3000


def test_the_delimiter_that_splits_evenly_wins():
    data = csv_file(
        [
            ["Название", "Адрес, город"],
            ["Ромашка", "г. Москва, ул. Ленина, 1"],
            ["Берёзка", "Казань, Баумана, 5"],
        ],
        delimiter=";",
    )
    table = imports.read_table(data, "a.csv", LIMIT)
    assert table.headers == ["Название", "Адрес, город"]
    assert table.rows[0] == (2, ["Ромашка", "г. Москва, ул. Ленина, 1"])
