"""Exports: heads take their department's clients, deals, complaints and contacts logged, admins
the company's (and the audit log), for a period, as XLSX or CSV.

Everything the issue asks of an export happens here, so no screen can skip it:

- who: admins, and heads of a department; nobody else, whatever callback data says. Rows are
  scoped by the same conditions as the screens (visible_clients, visible_deals, ...);
- how many: at most EXPORTS_PER_DAY files per user per local day, counted in the audit log
  (a restart or a second instance cannot reset it); hitting the limit is audited too;
- every export is audited (what, period, format, rows, file name) and announced to the other
  admins through the outbox, in the transaction that records it, before the file leaves;
- rows are read in keyset chunks of CHUNK, each in its own short transaction (no lock held on
  SQLite while a chunk is written out), as plain column tuples (no ORM objects), and written
  off the event loop; a file over Telegram's 50 MB is refused, not cut;
- text cells a spreadsheet would take for a formula (= + - @, tab, CR) get a leading
  apostrophe, in CSV and XLSX alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import re
import unicodedata
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.services import audit_log, outbox
from bot.services.access import visible_clients
from bot.services.audit import AuditAction
from bot.services.audit_log import AuditFilter
from bot.services.complaints import visible_complaints
from bot.services.deals import visible_deals
from bot.services.errors import N_, AccessDenied, DomainError, InvalidInput
from bot.services.money import MINOR
from db.models import (
    AuditEntry,
    Client,
    Complaint,
    Deal,
    Department,
    Interaction,
    ReferenceItem,
    Role,
    User,
)

CHUNK = 1000
MAX_BYTES = 50 * 1024 * 1024  # Telegram's limit for a document a bot sends
MAX_ROWS = 1_048_575  # a worksheet's rows, less the header
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
DAY = timedelta(days=1)

E = TypeVar("E", bound=Enum)


class ExportKind(StrEnum):
    CLIENTS = "clients"
    DEALS = "deals"
    COMPLAINTS = "complaints"
    INTERACTIONS = "interactions"
    AUDIT = "audit"  # admins only


DATA_KINDS = (ExportKind.CLIENTS, ExportKind.DEALS, ExportKind.COMPLAINTS, ExportKind.INTERACTIONS)


class ExportPeriod(StrEnum):
    THIS_MONTH = "tm"
    LAST_MONTH = "lm"
    LAST_3_MONTHS = "l3"  # this month and the two before
    THIS_YEAR = "ty"


class ExportFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


class ExportLimitReached(DomainError):
    message = N_("You have made all {limit} exports allowed for today. Try again tomorrow.")


class ExportTooLarge(DomainError):
    message = N_("That file would be over Telegram's 50 MB: choose a shorter period.")


class NothingToExport(DomainError):
    message = N_("Nothing to export for this period.")


def _choice(enum: type[E], value: str) -> E:
    """An enum member from callback data, which is never trusted."""
    try:
        return enum(value)
    except ValueError:
        raise InvalidInput() from None


def kind_from(value: str) -> ExportKind:
    return _choice(ExportKind, value)


def period_from(value: str) -> ExportPeriod:
    return _choice(ExportPeriod, value)


def format_from(value: str) -> ExportFormat:
    return _choice(ExportFormat, value)


# Who may export what


def require_exporter(actor: User, kind: ExportKind | None = None) -> None:
    """Admins export anything; heads of a department their department's data; nobody else."""
    if not actor.is_active:
        raise AccessDenied()
    if actor.role is Role.ADMIN:
        return
    if actor.role is Role.HEAD and actor.department_id is not None and kind is not ExportKind.AUDIT:
        return
    raise AccessDenied()


def kinds_for(actor: User) -> list[ExportKind]:
    require_exporter(actor)
    return list(ExportKind) if actor.role is Role.ADMIN else list(DATA_KINDS)


# Periods and the daily limit


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_days(period: ExportPeriod, today: date) -> tuple[date, date]:
    """The first and last local day of the period (both included)."""
    month = today.replace(day=1)
    if period is ExportPeriod.THIS_MONTH:
        return month, _add_months(month, 1) - timedelta(days=1)
    if period is ExportPeriod.LAST_MONTH:
        return _add_months(month, -1), month - timedelta(days=1)
    if period is ExportPeriod.LAST_3_MONTHS:
        return _add_months(month, -2), _add_months(month, 1) - timedelta(days=1)
    return date(today.year, 1, 1), date(today.year, 12, 31)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)


def _today_start(actor: User, now: datetime) -> datetime:
    zone = ZoneInfo(actor.timezone)
    return _midnight(now.astimezone(zone).date(), zone)


async def exports_left(session: AsyncSession, actor: User, now: datetime, per_day: int) -> int:
    require_exporter(actor)
    done = await audit_log.count_since(
        session, actor.id, [AuditAction.EXPORTED], _today_start(actor, now)
    )
    return max(per_day - done, 0)


# What each kind exports: columns as plain tuples, scoped to the actor


@dataclass(frozen=True)
class _Spec:
    headers: list[str]
    statement: Select[Any]
    id_column: Any
    date_column: Any
    amounts: tuple[int, ...] = ()  # positions of amounts in minor units

    def values(self, row: Sequence[Any], zone: ZoneInfo) -> list[Any]:
        values = [_cell(value, zone) for value in row]
        for position in self.amounts:
            if values[position] is not None:
                values[position] = Decimal(values[position]) / MINOR
        return values


def _spec(kind: ExportKind, actor: User, flt: AuditFilter) -> _Spec:
    owner, department = aliased(User), aliased(Department)
    if kind is ExportKind.CLIENTS:
        industry, region, source = (aliased(ReferenceItem) for _ in range(3))
        statement = (
            select(
                Client.id,
                Client.name,
                Client.kind,
                Client.status,
                Client.phone,
                Client.email,
                Client.inn,
                Client.address,
                industry.name,
                region.name,
                source.name,
                owner.full_name,
                department.name,
                Client.notes,
                Client.created_at,
                Client.last_contact_at,
            )
            .select_from(Client)
            .join(owner, owner.id == Client.owner_id)
            .outerjoin(department, department.id == owner.department_id)
            .outerjoin(industry, industry.id == Client.industry_id)
            .outerjoin(region, region.id == Client.region_id)
            .outerjoin(source, source.id == Client.lead_source_id)
            .where(visible_clients(actor))
        )
        headers = [
            "id",
            "name",
            "kind",
            "status",
            "phone",
            "email",
            "inn",
            "address",
            "industry",
            "region",
            "lead_source",
            "owner",
            "department",
            "notes",
            "created_at",
            "last_contact_at",
        ]
        return _Spec(headers, statement, Client.id, Client.created_at)
    if kind is ExportKind.DEALS:
        line, reason = aliased(ReferenceItem), aliased(ReferenceItem)
        statement = (
            select(
                Deal.id,
                Deal.title,
                Deal.client_id,
                Client.name,
                owner.full_name,
                department.name,
                Deal.stage,
                Deal.amount_minor,
                Deal.currency,
                line.name,
                Deal.expected_close_on,
                Deal.closed_at,
                reason.name,
                Deal.lost_comment,
                Deal.summary,
                Deal.created_at,
            )
            .select_from(Deal)
            .join(Client, Client.id == Deal.client_id)
            .join(owner, owner.id == Deal.owner_id)
            .outerjoin(department, department.id == owner.department_id)
            .outerjoin(line, line.id == Deal.product_line_id)
            .outerjoin(reason, reason.id == Deal.lost_reason_id)
            .where(visible_deals(actor))
        )
        headers = [
            "id",
            "title",
            "client_id",
            "client",
            "owner",
            "department",
            "stage",
            "amount",
            "currency",
            "product_line",
            "expected_close_on",
            "closed_at",
            "lost_reason",
            "lost_comment",
            "summary",
            "created_at",
        ]
        return _Spec(headers, statement, Deal.id, Deal.created_at, amounts=(7,))
    if kind is ExportKind.COMPLAINTS:
        category, line, assignee = aliased(ReferenceItem), aliased(ReferenceItem), aliased(User)
        statement = (
            select(
                Complaint.id,
                Complaint.client_id,
                Client.name,
                Complaint.severity,
                Complaint.status,
                category.name,
                line.name,
                Complaint.description,
                owner.full_name,
                assignee.full_name,
                department.name,
                Complaint.sla_due_at,
                Complaint.escalated_at,
                Complaint.resolved_at,
                Complaint.resolution,
                Complaint.closed_at,
                Complaint.created_at,
            )
            .select_from(Complaint)
            .join(Client, Client.id == Complaint.client_id)
            .join(owner, owner.id == Complaint.reporter_id)
            .outerjoin(assignee, assignee.id == Complaint.assignee_id)
            .outerjoin(department, department.id == Complaint.department_id)
            .outerjoin(category, category.id == Complaint.category_id)
            .outerjoin(line, line.id == Complaint.product_line_id)
            .where(visible_complaints(actor))
        )
        headers = [
            "id",
            "client_id",
            "client",
            "severity",
            "status",
            "category",
            "product_line",
            "description",
            "reporter",
            "assignee",
            "queue",
            "sla_due_at",
            "escalated_at",
            "resolved_at",
            "resolution",
            "closed_at",
            "created_at",
        ]
        return _Spec(headers, statement, Complaint.id, Complaint.created_at)
    if kind is ExportKind.INTERACTIONS:
        seen = select(Client.id).where(visible_clients(actor)).scalar_subquery()
        statement = (
            select(
                Interaction.id,
                Interaction.occurred_at,
                Interaction.client_id,
                Client.name,
                owner.full_name,
                department.name,
                Interaction.kind,
                Interaction.summary,
                Interaction.outcome,
                Interaction.next_step,
                Interaction.next_step_due_at,
                Interaction.deal_id,
            )
            .select_from(Interaction)
            .join(Client, Client.id == Interaction.client_id)
            .join(owner, owner.id == Interaction.author_id)
            .outerjoin(department, department.id == owner.department_id)
            .where(Interaction.client_id.in_(seen))
        )
        headers = [
            "id",
            "occurred_at",
            "client_id",
            "client",
            "author",
            "department",
            "kind",
            "summary",
            "outcome",
            "next_step",
            "next_step_due_at",
            "deal_id",
        ]
        return _Spec(headers, statement, Interaction.id, Interaction.occurred_at)
    headers, statement = audit_log.export_statement(flt)
    return _Spec(headers, statement, AuditEntry.id, AuditEntry.created_at)


# Cells


# Control characters an XLSX cell cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def neutralize(text: str) -> str:
    """A leading apostrophe keeps a spreadsheet from taking the text for a formula."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)  # control characters XLSX cannot hold
    return "'" + text if text.startswith(FORMULA_START) else text


def _cell(value: Any, zone: ZoneInfo) -> Any:
    """A value for a spreadsheet: local naive times, plain strings, numbers as numbers."""
    if isinstance(value, str):
        return neutralize(value)
    if isinstance(value, datetime):
        return value.astimezone(zone).replace(tzinfo=None, microsecond=0)
    if value is None or isinstance(value, int | float | Decimal | date):
        return value
    if isinstance(value, Enum):
        return neutralize(str(value.value))
    if isinstance(value, dict | list):
        return neutralize(json.dumps(value, ensure_ascii=False, default=str))
    return neutralize(str(value))


def _csv_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


class _Writer(Protocol):
    def write(self, rows: list[list[Any]]) -> None: ...

    def finish(self) -> bytes: ...

    def close(self) -> None: ...


class _CsvWriter:
    """UTF-8 with a byte order mark (Excel then reads Cyrillic right), comma-separated."""

    def __init__(self, headers: list[str]) -> None:
        self.buffer = io.BytesIO()
        self.text = io.TextIOWrapper(self.buffer, encoding="utf-8-sig", newline="")
        self.csv = csv.writer(self.text)
        self.csv.writerow(headers)

    def write(self, rows: list[list[Any]]) -> None:
        self.csv.writerows([_csv_text(value) for value in row] for row in rows)
        self.text.flush()
        if self.buffer.tell() > MAX_BYTES:
            raise ExportTooLarge()

    def finish(self) -> bytes:
        self.text.flush()
        return self.buffer.getvalue()

    def close(self) -> None:
        pass


class _XlsxWriter:
    """openpyxl's write-only workbook: rows go to a temporary file, not kept as cells."""

    def __init__(self, headers: list[str], title: str) -> None:
        # Imported here: openpyxl costs the bot 10 MB, and only exports need it.
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        self.book = Workbook(write_only=True)
        self.saved = False
        self.sheet = self.book.create_sheet(title)
        self.sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        cells = []
        for header in headers:
            cell = WriteOnlyCell(self.sheet, value=header)
            cell.font = bold
            cells.append(cell)
        self.sheet.append(cells)

    def write(self, rows: list[list[Any]]) -> None:
        for row in rows:
            self.sheet.append(row)

    def finish(self) -> bytes:
        out = io.BytesIO()
        self.book.save(out)
        self.saved = True
        return out.getvalue()

    def close(self) -> None:
        """Saving is what removes the sheet's temporary file: an abandoned one is saved away."""
        if not self.saved:
            with contextlib.suppress(Exception):
                self.book.save(io.BytesIO())


# The export


@dataclass(frozen=True)
class ExportFile:
    kind: ExportKind
    format: ExportFormat
    first: date
    last: date
    rows: int
    file_name: str
    data: bytes
    actor_name: str


Announce = Callable[[User, ExportFile], str]

_LATIN = "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya"
_TRANSLIT = {
    cyrillic: latin.strip("_")
    for cyrillic, latin in zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", _LATIN.split(), strict=True)
}


def ascii_slug(name: str, fallback: str) -> str:
    """ASCII letters, digits and dashes for a file name: "Ольга Админ" → "olga-admin"."""
    text = "".join(_TRANSLIT.get(ch, ch) for ch in name.lower())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:40].strip("-")
    return slug or fallback


def file_name(kind: ExportKind, fmt: ExportFormat, actor: User, now: datetime) -> str:
    local = now.astimezone(ZoneInfo(actor.timezone))
    name = "audit_log" if kind is ExportKind.AUDIT else kind.value
    who = ascii_slug(actor.full_name, f"user{actor.id}")
    return f"{name}_{local:%Y-%m-%d_%H%M}_{who}.{fmt.value}"


async def check_limit(session: AsyncSession, actor: User, now: datetime, per_day: int) -> None:
    """Refuses (and audits the refusal) when the user has no export left today."""
    require_exporter(actor)
    if per_day <= 0:  # EXPORTS_PER_DAY=0 turns exports off
        raise AccessDenied()
    if await exports_left(session, actor, now, per_day) > 0:
        return
    audit_log.record(
        session,
        actor.id,
        AuditAction.EXPORT_LIMIT_HIT,
        "export",
        None,
        now,
        {"limit": per_day},
    )
    await session.commit()
    raise ExportLimitReached(limit=per_day)


async def _rows(
    session: AsyncSession, spec: _Spec, start: datetime, end: datetime
) -> AsyncIterator[Sequence[Any]]:
    """Chunks of rows by ascending id, each read in its own transaction."""
    statement = spec.statement.where(spec.date_column >= start, spec.date_column < end)
    last_id = 0
    while True:
        chunk = (
            await session.execute(
                statement.where(spec.id_column > last_id).order_by(spec.id_column).limit(CHUNK)
            )
        ).all()
        await session.commit()  # only read: ends the transaction, no lock held in between
        if not chunk:
            return
        yield chunk
        last_id = chunk[-1][0]
        if len(chunk) < CHUNK:
            return


async def _write(
    session: AsyncSession,
    spec: _Spec,
    writer: _Writer,
    first: date,
    last: date,
    zone: ZoneInfo,
    fmt: ExportFormat,
) -> tuple[int, bytes]:
    """The rows read chunk by chunk, converted and written off the event loop."""

    def write(chunk: Sequence[Sequence[Any]]) -> None:  # in a worker thread
        writer.write([spec.values(row, zone) for row in chunk])

    rows = 0
    async for chunk in _rows(session, spec, _midnight(first, zone), _midnight(last + DAY, zone)):
        rows += len(chunk)
        if rows > MAX_ROWS and fmt is ExportFormat.XLSX:
            raise ExportTooLarge()
        await asyncio.to_thread(write, chunk)
    if rows == 0:
        raise NothingToExport()
    data = await asyncio.to_thread(writer.finish)
    if len(data) > MAX_BYTES:
        raise ExportTooLarge()
    return rows, data


async def export(
    session: AsyncSession,
    actor: User,
    kind: ExportKind,
    period: ExportPeriod,
    fmt: ExportFormat,
    *,
    now: datetime,
    per_day: int,
    announce: Announce,
    audit_filter: AuditFilter | None = None,
) -> ExportFile:
    """Builds the file, records the export and queues the admins' notices; the caller sends
    the file (after this commit: an export that is not recorded never leaves)."""
    require_exporter(actor, kind)
    await check_limit(session, actor, now, per_day)
    zone = ZoneInfo(actor.timezone)
    first, last = period_days(period, now.astimezone(zone).date())
    flt = audit_filter or AuditFilter()
    spec = _spec(kind, actor, flt)
    writer: _Writer = (
        _XlsxWriter(spec.headers, kind.value)
        if fmt is ExportFormat.XLSX
        else _CsvWriter(spec.headers)
    )
    try:
        rows, data = await _write(session, spec, writer, first, last, zone, fmt)
    finally:
        await asyncio.to_thread(writer.close)
    done = ExportFile(
        kind, fmt, first, last, rows, file_name(kind, fmt, actor, now), data, actor.full_name
    )
    await _record(session, actor, done, period, flt, now, announce)
    return done


async def _record(
    session: AsyncSession,
    actor: User,
    done: ExportFile,
    period: ExportPeriod,
    flt: AuditFilter,
    now: datetime,
    announce: Announce,
) -> None:
    details: dict[str, Any] = {
        "period": period.value,
        "first": done.first.isoformat(),
        "last": done.last.isoformat(),
        "format": done.format.value,
        "rows": done.rows,
        "file": done.file_name,
    }
    if done.kind is not ExportKind.AUDIT and actor.role is Role.HEAD:
        details["department_id"] = actor.department_id
    if flt.user_id is not None:
        details["user_id"] = flt.user_id
    if flt.action is not None:
        details["action"] = flt.action
    entry = audit_log.record(
        session, actor.id, AuditAction.EXPORTED, done.kind.value, None, now, details
    )
    await session.flush()
    for admin in await _admins(session, actor):
        await outbox.enqueue(
            session, admin, f"export:{entry.id}:{admin.id}", announce(admin, done), not_before=now
        )
    await session.commit()


async def _admins(session: AsyncSession, actor: User) -> Sequence[User]:
    """Who is told of an export: every active admin but the one who made it."""
    rows = await session.scalars(
        select(User).where(User.role == Role.ADMIN, User.is_active.is_(True), User.id != actor.id)
    )
    return rows.all()
