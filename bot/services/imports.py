"""Importing clients from a CSV or XLSX table an admin sends to the bot.

Two calls, both given the file's bytes: `preview` reads and checks everything and writes
nothing; `import_clients` reads the same bytes again, checks again (the base may have changed
meanwhile) and inserts every good row in one transaction, with one audit entry.

The rules are those of a client typed in by hand (bot/services/clients.py): the same parsing
of phones, e-mails and INNs, and the same duplicate keys (name without legal form, phone,
e-mail, INN), checked against the whole base and within the file. For speed the base is asked
once per key kind for all the file's values (IN lists in chunks), not once per row.

Decisions:
- a row with any bad value is skipped whole and reported with its reasons; nothing is guessed;
- a region or industry must already be in the admin's reference lists (matched by name,
  ignoring case); an unknown one makes the row bad, and the preview lists the unknown names so
  the admin can add them and send the file again;
- an owner is an active user, given by full name, @username or Telegram id; an empty owner
  cell (or no owner column) means the importing admin, and the preview says so;
- new clients are companies in status Lead, created by the importing admin.

Reading runs in a worker thread (`asyncio.to_thread`): a 10,000-row file must not stall other
users' updates. Row numbers are the spreadsheet's own (the header is row 1), so the admin finds
a reported row where a spreadsheet program shows it.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import parsing
from bot.services.access import require_role
from bot.services.audit import AuditAction
from bot.services.clients import ADDRESS_MAX, NAME_MAX, NOTES_MAX
from bot.services.errors import N_, DomainError, InvalidInput
from db.models import (
    AuditEntry,
    Client,
    ClientKind,
    ClientStatus,
    ReferenceItem,
    ReferenceKind,
    Role,
    User,
)
from db.repositories import AuditRepository
from db.types import utcnow

# What a column can hold, in the order the admin is offered them.
FIELDS = ("name", "phone", "email", "inn", "address", "region", "industry", "owner", "notes")
REFERENCE_FIELDS = {"region": ReferenceKind.REGION, "industry": ReferenceKind.INDUSTRY}

# Header spellings, compared folded (case, ё, punctuation and spaces ignored).
ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "company",
        "company name",
        "client",
        "client name",
        "organization",
        "organisation",
        "customer",
        "название",
        "наименование",
        "компания",
        "клиент",
        "организация",
        "название компании",
        "наименование организации",
        "название клиента",
        "контрагент",
    ),
    "phone": (
        "phone",
        "phone number",
        "telephone",
        "tel",
        "mobile",
        "телефон",
        "тел",
        "номер телефона",
        "мобильный",
        "мобильный телефон",
    ),
    "email": ("email", "e-mail", "mail", "email address", "почта", "электронная почта", "эл почта"),
    "inn": ("inn", "tax id", "инн"),
    "address": ("address", "адрес"),
    "region": ("region", "регион", "область"),
    "industry": ("industry", "sector", "отрасль", "сфера", "индустрия"),
    "owner": (
        "owner",
        "manager",
        "account manager",
        "responsible",
        "менеджер",
        "ответственный",
        "владелец",
        "ответственный менеджер",
    ),
    "notes": (
        "notes",
        "note",
        "comment",
        "comments",
        "remarks",
        "примечание",
        "примечания",
        "комментарий",
        "комментарии",
        "заметки",
    ),
}

MAX_COLUMNS = 30  # columns past this are left out (and the preview says so)
MAX_ROWS = 50_000
IN_CHUNK = 900  # values per IN (...) list: under SQLite's and asyncpg's parameter limits
GUARD_DAYS = 7  # how far back a confirmation token is looked for in the audit log

# Refusals of the whole file.
NOT_A_TABLE = N_(
    "I can import only a CSV or XLSX table (.csv or .xlsx, the first row naming the columns). "
    "Save the table in one of these formats and send it again."
)
FILE_EMPTY = N_("The file is empty: there are no rows under the header.")
FILE_TOO_LARGE = N_("The file is too large: at most {limit} MB. Split it and send the parts.")
TOO_MANY_ROWS = N_("The file has too many rows: at most {limit}. Split it and send the parts.")
NO_NAME_COLUMN = N_(
    "No column with the client's name. Name the first row's column “name” or “название” "
    "and send the file again."
)
NAME_COLUMN_NEEDED = N_("One column must hold the client's name.")
FILE_CHANGED = N_("The file has changed. Please send it again.")


class AlreadyImported(DomainError):
    message = N_("This file has already been imported.")


# Reasons a row is bad (the handler words them).
MISSING = "missing"
INVALID = "invalid"
TOO_LONG = "too_long"
UNKNOWN = "unknown"
AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Problem:
    field: str
    reason: str  # MISSING, INVALID, TOO_LONG, UNKNOWN or AMBIGUOUS
    value: str = ""


@dataclass(frozen=True)
class BadRow:
    row: int
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class DuplicateRow:
    """Row `row` ("name") matches on `field` an earlier row of the file or an existing client."""

    row: int
    name: str
    field: str
    other_row: int | None = None
    existing: str | None = None


@dataclass
class ImportRow:
    row: int
    values: dict[str, Any]  # Client columns: name, name_key, search_text, phone, ...
    owner_name: str


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (spreadsheet row number, cells)
    dropped_columns: int = 0


@dataclass
class Preview:
    file_name: str
    sha256: str
    headers: list[str]
    mapping: list[str]  # per column: a field of FIELDS, or "" (ignored)
    dropped_columns: int
    total: int
    good: list[ImportRow]
    bad: list[BadRow]
    duplicates: list[DuplicateRow]
    default_owner_rows: int  # good rows that go to the importing admin
    unknown: dict[str, dict[str, int]] = field(default_factory=dict)  # field → name → rows


@dataclass(frozen=True)
class ImportResult:
    file_name: str
    total: int
    imported: int
    bad: int
    duplicates: int


# Checks before download


def require_importer(actor: User) -> None:
    """Only admins import: the whole company's base is at stake."""
    require_role(actor, Role.ADMIN)


def check_document(actor: User, file_name: str | None, size: int | None, max_bytes: int) -> None:
    """Refuses at once what cannot be imported, before the file is downloaded."""
    require_importer(actor)
    if _kind(file_name) is None:
        raise InvalidInput(NOT_A_TABLE)
    if size is not None and size > max_bytes:
        raise InvalidInput(FILE_TOO_LARGE, limit=megabytes(max_bytes))
    if size == 0:
        raise InvalidInput(FILE_EMPTY)


def megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}".removesuffix(".0")


def _kind(file_name: str | None) -> str | None:
    name = (file_name or "").lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".xlsx"):
        return "xlsx"
    return None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Reading tables


def read_table(data: bytes, file_name: str, max_bytes: int) -> Table:
    """The header row and the data rows of a CSV or XLSX file; raises InvalidInput."""
    kind = _kind(file_name)
    if kind is None:
        raise InvalidInput(NOT_A_TABLE)
    if len(data) > max_bytes:
        raise InvalidInput(FILE_TOO_LARGE, limit=megabytes(max_bytes))
    if not data.strip():
        raise InvalidInput(FILE_EMPTY)
    rows = _csv_rows(data) if kind == "csv" else _xlsx_rows(data)
    return _table(rows)


def _table(rows: Iterator[tuple[int, list[str]]]) -> Table:
    headers: list[str] | None = None
    body: list[tuple[int, list[str]]] = []
    for number, cells in rows:
        if not any(cells):
            continue
        if headers is None:
            headers = cells
            continue
        if len(body) >= MAX_ROWS:
            raise InvalidInput(TOO_MANY_ROWS, limit=MAX_ROWS)
        body.append((number, cells))
    if headers is None or not body:
        raise InvalidInput(FILE_EMPTY)
    width = max([len(headers)] + [len(cells) for _, cells in body])
    while width and not _column_used(headers, body, width - 1):
        width -= 1  # trailing columns with neither a header nor a value
    kept = min(width, MAX_COLUMNS)
    headers = (headers + [""] * kept)[:kept]
    body = [(number, (cells + [""] * kept)[:kept]) for number, cells in body]
    return Table(headers, body, dropped_columns=width - kept)


def _column_used(headers: list[str], body: list[tuple[int, list[str]]], index: int) -> bool:
    cells = [headers, *(cells for _, cells in body)]
    return any(len(row) > index and row[index] for row in cells)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251")
    except UnicodeDecodeError:
        raise InvalidInput(NOT_A_TABLE) from None


def _delimiter(text: str) -> str:
    """The delimiter that splits the first lines most consistently (then into the most
    columns): a ";" file with commas in its addresses still splits evenly only on ";"."""
    sample = text[:20_000].splitlines()[:20]
    best, best_score = ",", (0, 0)
    for delimiter in (";", ",", "\t"):
        counts = [len(row) for row in csv.reader(sample, delimiter=delimiter)]
        if not counts:
            continue
        header = counts[0]
        consistent = sum(1 for count in counts if count == header)
        score = (consistent, header) if header > 1 else (0, 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidInput(NOT_A_TABLE)  # a binary file with a .csv name
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        for number, row in enumerate(reader, start=1):
            yield number, [cell.strip() for cell in row]
    except csv.Error:
        raise InvalidInput(NOT_A_TABLE) from None


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # only here: it takes a while to import

    if not data.startswith(b"PK"):
        raise InvalidInput(NOT_A_TABLE)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # zipfile's, KeyError, openpyxl's own: all mean "not a workbook"
        raise InvalidInput(NOT_A_TABLE) from None
    try:
        if not workbook.worksheets:
            raise InvalidInput(FILE_EMPTY)
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        for number, values in enumerate(rows, start=1):
            yield number, [_cell_text(value) for value in values]
    except InvalidInput:
        raise
    except Exception:  # a broken sheet inside a valid zip
        raise InvalidInput(NOT_A_TABLE) from None
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date | time | timedelta):
        return str(value)
    return str(value).strip()


# Columns


def _folded(text: str) -> str:
    return parsing.search_key(text).replace(" ", "")


_ALIAS_FIELD = {_folded(alias): name for name, aliases in ALIASES.items() for alias in aliases}


def auto_mapping(headers: Sequence[str]) -> list[str]:
    """A field per column by its header ("" when not recognized); each field once at most.

    A header matches when all of it, or else its first word, is a known spelling.
    """
    mapping = [_ALIAS_FIELD.get(_folded(header), "") for header in headers]
    for index, header in enumerate(headers):
        words = parsing.search_key(header).split()
        if not mapping[index] and words:
            mapping[index] = _ALIAS_FIELD.get(words[0], "")
    seen: set[str] = set()
    for index, name in enumerate(mapping):
        if name in seen:
            mapping[index] = ""
        seen.add(name)
    return mapping


def set_column(mapping: Sequence[str], column: int, target: str) -> list[str]:
    """The mapping with `column` holding `target` ("" to ignore it); a field's other column
    is let go. The name must stay mapped."""
    if not 0 <= column < len(mapping) or (target and target not in FIELDS):
        raise InvalidInput()
    changed = ["" if target and name == target else name for name in mapping]
    changed[column] = target
    if "name" not in changed:
        raise InvalidInput(NAME_COLUMN_NEEDED)
    return changed


def _valid_mapping(mapping: Sequence[str] | None, headers: Sequence[str]) -> list[str]:
    if mapping is None or len(mapping) != len(headers):
        mapping = auto_mapping(headers)
    mapping = [name if name in FIELDS else "" for name in mapping]
    if "name" not in mapping:
        raise InvalidInput(NO_NAME_COLUMN)
    return mapping


# Rows


@dataclass
class _Parsed:
    row: int
    values: dict[str, Any]
    refs: dict[str, str]  # region, industry, owner: the raw cell
    problems: list[Problem]


_TEXT_LIMITS = {"name": NAME_MAX, "address": ADDRESS_MAX, "notes": NOTES_MAX}


def _parse_row(number: int, cells: Sequence[str], mapping: Sequence[str]) -> _Parsed:
    parsed = _Parsed(number, {}, {}, [])
    raw = {name: cells[index] for index, name in enumerate(mapping) if name}
    for name in FIELDS:
        value = raw.get(name, "")
        if name in ("region", "industry", "owner"):
            parsed.refs[name] = " ".join(value.split())
            continue
        if not value.strip():
            if name == "name":
                parsed.problems.append(Problem("name", MISSING))
            continue
        try:
            parsed.values[name] = _parse_value(name, value)
        except InvalidInput as error:
            reason = TOO_LONG if "limit" in error.params else INVALID
            parsed.problems.append(Problem(name, reason, value))
    name = parsed.values.get("name")
    if name is not None:
        parsed.values["name_key"] = parsing.normalize_name(name)
        parsed.values["search_text"] = parsing.search_key(name)
    if "phone" in parsed.values:
        parsed.values["phone_digits"] = parsing.phone_digits(parsed.values["phone"])
    return parsed


def _parse_value(name: str, value: str) -> str:
    if name == "phone":
        return parsing.normalize_phone(value)
    if name == "email":
        return parsing.normalize_email(value)
    if name == "inn":
        digits = "".join(value.split())
        if digits.isdigit() and len(digits) in (9, 11):
            digits = "0" + digits  # a spreadsheet kept it as a number and lost the leading 0
        return parsing.validate_inn(digits)
    return parsing.clean_text(value, limit=_TEXT_LIMITS[name])


def _parse_rows(table: Table, mapping: Sequence[str]) -> list[_Parsed]:
    return [_parse_row(number, cells, mapping) for number, cells in table.rows]


# The base: reference items, users, existing keys


@dataclass
class _Lookups:
    refs: dict[str, dict[str, int]]  # field → folded name → item id
    owners: dict[str, list[tuple[int, str]]]  # folded full name / @username / id → users
    existing: dict[str, dict[str, str]]  # key field → value → the existing client's name


async def _lookups(session: AsyncSession, parsed: Sequence[_Parsed]) -> _Lookups:
    refs: dict[str, dict[str, int]] = {}
    for name, kind in REFERENCE_FIELDS.items():
        items = await session.execute(
            select(ReferenceItem.id, ReferenceItem.name)
            .where(ReferenceItem.kind == kind, ReferenceItem.archived.is_(False))
            .order_by(ReferenceItem.id)
        )
        refs[name] = {}
        for item_id, item_name in items:
            refs[name].setdefault(parsing.search_key(item_name), item_id)
    owners: dict[str, list[tuple[int, str]]] = {}
    users = await session.execute(
        select(User.id, User.full_name, User.username, User.telegram_id).where(
            User.is_active.is_(True)
        )
    )
    for user_id, full_name, username, telegram_id in users:
        keys = {parsing.search_key(full_name), str(telegram_id)}
        if username:
            keys.add("@" + username.lower())
        for key in keys:
            owners.setdefault(key, []).append((user_id, full_name))
    existing: dict[str, dict[str, str]] = {}
    for key, column in (
        ("name", Client.name_key),
        ("phone", Client.phone),
        ("email", Client.email),
        ("inn", Client.inn),
    ):
        values = sorted(
            {p.values[_KEY_VALUE[key]] for p in parsed if p.values.get(_KEY_VALUE[key])}
        )
        found: dict[str, str] = {}
        for start in range(0, len(values), IN_CHUNK):
            rows = await session.execute(
                select(column, Client.name)
                .where(column.in_(values[start : start + IN_CHUNK]))
                .order_by(Client.id)
            )
            for value, client_name in rows:
                found.setdefault(value, client_name)
        existing[key] = found
    return _Lookups(refs, owners, existing)


_KEY_VALUE = {"name": "name_key", "phone": "phone", "email": "email", "inn": "inn"}


def _owner_key(raw: str) -> str:
    value = raw.strip()
    if value.startswith("@") or value.startswith("https://t.me/"):
        return "@" + value.removeprefix("https://t.me/").lstrip("@").lower()
    if value.isdigit():
        return value
    return parsing.search_key(value)


def _check(parsed: Sequence[_Parsed], lookups: _Lookups, actor: User, preview: Preview) -> None:
    """Resolves references and owners, sorts rows into good, bad and duplicates."""
    seen: dict[str, dict[str, int]] = {key: {} for key in _KEY_VALUE}
    for row in parsed:
        problems = list(row.problems)
        values = dict(row.values)
        for name in REFERENCE_FIELDS:
            raw = row.refs.get(name, "")
            if not raw:
                continue
            item_id = lookups.refs[name].get(parsing.search_key(raw))
            if item_id is None:
                problems.append(Problem(name, UNKNOWN, raw))
                counts = preview.unknown.setdefault(name, {})
                counts[raw] = counts.get(raw, 0) + 1
            else:
                values[f"{name}_id"] = item_id
        owner_raw = row.refs.get("owner", "")
        owner_id, owner_name = actor.id, actor.full_name
        if owner_raw:
            matches = lookups.owners.get(_owner_key(owner_raw), [])
            if not matches:
                problems.append(Problem("owner", UNKNOWN, owner_raw))
            elif len({user_id for user_id, _ in matches}) > 1:
                problems.append(Problem("owner", AMBIGUOUS, owner_raw))
            else:
                owner_id, owner_name = matches[0]
        if problems:
            preview.bad.append(BadRow(row.row, tuple(problems)))
            continue
        duplicate = _duplicate(row.row, values, lookups, seen)
        if duplicate is not None:
            preview.duplicates.append(duplicate)
            continue
        for key, value_field in _KEY_VALUE.items():
            if values.get(value_field):
                seen[key].setdefault(values[value_field], row.row)
        values["owner_id"] = owner_id
        preview.good.append(ImportRow(row.row, values, owner_name))
        if not owner_raw:
            preview.default_owner_rows += 1


def _duplicate(
    number: int, values: dict[str, Any], lookups: _Lookups, seen: dict[str, dict[str, int]]
) -> DuplicateRow | None:
    for key, value_field in _KEY_VALUE.items():
        value = values.get(value_field)
        if value and value in lookups.existing[key]:
            return DuplicateRow(number, values["name"], key, existing=lookups.existing[key][value])
    for key, value_field in _KEY_VALUE.items():
        value = values.get(value_field)
        if value and value in seen[key]:
            return DuplicateRow(number, values["name"], key, other_row=seen[key][value])
    return None


# The two steps


def _read_and_parse(
    data: bytes, file_name: str, mapping: Sequence[str] | None, max_bytes: int
) -> tuple[Table, list[str], list[_Parsed]]:
    table = read_table(data, file_name, max_bytes)
    columns = _valid_mapping(mapping, table.headers)
    return table, columns, _parse_rows(table, columns)


async def preview(
    session: AsyncSession,
    actor: User,
    data: bytes,
    file_name: str,
    *,
    max_bytes: int,
    mapping: Sequence[str] | None = None,
) -> Preview:
    """What importing `data` would do; writes nothing. `mapping` None: from the headers."""
    require_importer(actor)
    table, columns, parsed = await asyncio.to_thread(
        _read_and_parse, data, file_name, mapping, max_bytes
    )
    result = Preview(
        file_name=file_name,
        sha256=sha256(data),
        headers=table.headers,
        mapping=columns,
        dropped_columns=table.dropped_columns,
        total=len(table.rows),
        good=[],
        bad=[],
        duplicates=[],
        default_owner_rows=0,
    )
    _check(parsed, await _lookups(session, parsed), actor, result)
    return result


async def import_clients(
    session: AsyncSession,
    actor: User,
    data: bytes,
    file_name: str,
    *,
    max_bytes: int,
    mapping: Sequence[str] | None,
    expected_sha256: str,
    token: str,
) -> ImportResult:
    """Checks the file again and inserts its good rows in one transaction, audited.

    `token` identifies the preview being confirmed: one already in the audit log is refused,
    so a repeated confirmation never imports twice (and the rows it would insert are by then
    duplicates anyway).
    """
    require_importer(actor)
    if sha256(data) != expected_sha256:
        raise InvalidInput(FILE_CHANGED)
    checked = await preview(session, actor, data, file_name, max_bytes=max_bytes, mapping=mapping)
    if await _token_used(session, actor, token):
        raise AlreadyImported()
    now = utcnow()
    rows = [_client_row(row, actor, now) for row in checked.good]
    if rows:
        # render_nulls: every row has the same columns, so the ORM sends them in a few
        # multi-row statements instead of grouping rows by which values are empty.
        await session.execute(insert(Client).execution_options(render_nulls=True), rows)
    AuditRepository(session).record(
        actor.id,
        AuditAction.IMPORT,
        "client",
        None,
        file=file_name[:200],
        sha256=checked.sha256,
        token=token,
        rows=checked.total,
        imported=len(rows),
        bad=len(checked.bad),
        duplicates=len(checked.duplicates),
    )
    await session.commit()
    return ImportResult(
        file_name, checked.total, len(rows), len(checked.bad), len(checked.duplicates)
    )


_COLUMNS = (
    "name",
    "name_key",
    "search_text",
    "phone",
    "phone_digits",
    "email",
    "inn",
    "address",
    "notes",
    "region_id",
    "industry_id",
    "owner_id",
)


def _client_row(row: ImportRow, actor: User, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {column: row.values.get(column) for column in _COLUMNS}
    values.update(
        kind=ClientKind.COMPANY,
        status=ClientStatus.LEAD,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    return values


async def _token_used(session: AsyncSession, actor: User, token: str) -> bool:
    # details is JSON: compared in Python to stay portable; an admin has few imports a week.
    entries = await session.scalars(
        select(AuditEntry.details).where(
            AuditEntry.actor_id == actor.id,
            AuditEntry.action == AuditAction.IMPORT.value,
            AuditEntry.created_at >= utcnow() - timedelta(days=GUARD_DAYS),
        )
    )
    return any((details or {}).get("token") == token for details in entries)
