"""Admins import clients: 📥 Import clients → send a CSV/XLSX file → preview (columns can be
re-mapped) → ✅ Import or Cancel. Nothing is written before ✅ Import.

The FSM data keeps the file's Telegram id, its hash, the column mapping and a token that the
preview's buttons carry; the file is downloaded again for every step that needs its rows, so
conversation state stays small and survives restarts. A second tap of ✅ Import finds the state
cleared (and the service refuses a token already in the audit log)."""

from __future__ import annotations

import secrets
from html import escape

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.flows import go, step
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import ImportAction, ImportCb
from bot.keyboards.common import nav_keyboard
from bot.keyboards.imports import (
    column_letter,
    columns_keyboard,
    field_label,
    fields_keyboard,
    preview_keyboard,
    short,
)
from bot.services import imports as service
from bot.states import ImportForm
from db.models import User

handlers = Handlers("imports")

TEXT_LIMIT = 4096
VALUE_SHOWN = 40


# Starting: the admin home's button


@handlers.callback_query(ImportCb.filter(F.action == ImportAction.START))
async def start_import(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User, settings: Settings
) -> None:
    service.require_importer(user)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await state.clear()
    await state.set_data({"limit": service.megabytes(settings.import_max_bytes)})
    await query.message.edit_reply_markup(reply_markup=None)
    await go(ImportForm.file, query.message, state, session, user)


@step(ImportForm.file, expects_text=False)
async def ask_file(message: Message, state: FSMContext, session, user) -> None:
    limit = (await state.get_data()).get("limit", "")
    await message.answer(
        _(
            "<b>📥 Import clients</b>\n"
            "Send a CSV or XLSX file (up to {limit} MB) as a document. The first row names the "
            "columns; these are recognized in Russian or English: name/название (required), "
            "phone/телефон, email, INN/ИНН, address/адрес, region/регион, industry/отрасль, "
            "owner/менеджер, notes/примечание. You will see a preview first: nothing is saved "
            "until you confirm."
        ).format(limit=limit),
        reply_markup=nav_keyboard(),
    )


@handlers.message(ImportForm.file, F.document)
@handlers.message(ImportForm.preview, F.document)
async def file_sent(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    bot: Bot,
    settings: Settings,
) -> None:
    """A file, or a new one in place of the previewed one."""
    document = message.document
    assert document is not None
    limit = service.megabytes(settings.import_max_bytes)
    await state.set_state(ImportForm.file)  # a refusal asks for a file again
    await state.set_data({"limit": limit})
    service.check_document(user, document.file_name, document.file_size, settings.import_max_bytes)
    data = await _download(bot, document.file_id)
    file_name = document.file_name or ""
    preview = await service.preview(
        session, user, data, file_name, max_bytes=settings.import_max_bytes
    )
    token = secrets.token_hex(4)
    await state.set_data(
        {
            "limit": limit,
            "file_id": document.file_id,
            "file_name": file_name,
            "sha256": preview.sha256,
            "mapping": preview.mapping,
            "headers": [short(header) for header in preview.headers],
            "token": token,
        }
    )
    await state.set_state(ImportForm.preview)
    await message.answer(
        preview_text(preview, user), reply_markup=preview_keyboard(token, len(preview.good))
    )


@handlers.message(ImportForm.file)
async def not_a_file(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await message.answer(_("Please send the table as a file (📎 → File): CSV or XLSX."))
    await ask_file(message, state, session, user)


@step(ImportForm.preview, expects_text=False)
async def ask_confirmation(message: Message, state: FSMContext, session, user) -> None:
    await message.answer(
        _("Tap ✅ Import under the preview to save the clients, send another file, or /cancel.")
    )


@handlers.message(ImportForm.preview)
async def not_a_choice(message: Message, state: FSMContext, session: AsyncSession, user: User):
    await ask_confirmation(message, state, session, user)


# The preview's buttons


async def _current(query: CallbackQuery, callback_data: ImportCb, state: FSMContext) -> dict:
    """The FSM data of the preview this button belongs to, or {} (then the tap is answered)."""
    data = await state.get_data()
    if (
        await state.get_state() != ImportForm.preview.state
        or not callback_data.token
        or data.get("token") != callback_data.token
        or not isinstance(query.message, Message)
    ):
        await query.answer(_("This button is no longer active."))
        return {}
    return data


async def _download(bot: Bot, file_id: str) -> bytes:
    buffer = await bot.download(file_id)
    assert buffer is not None
    return buffer.read()


async def _preview_again(
    data: dict, session: AsyncSession, user: User, bot: Bot, settings: Settings
) -> service.Preview:
    return await service.preview(
        session,
        user,
        await _download(bot, data["file_id"]),
        data["file_name"],
        max_bytes=settings.import_max_bytes,
        mapping=data["mapping"],
    )


@handlers.callback_query(ImportForm.preview, ImportCb.filter(F.action == ImportAction.CONFIRM))
async def confirm(
    query: CallbackQuery,
    callback_data: ImportCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    bot: Bot,
    settings: Settings,
) -> None:
    data = await _current(query, callback_data, state)
    if not data or not isinstance(query.message, Message):
        return
    result = await service.import_clients(
        session,
        user,
        await _download(bot, data["file_id"]),
        data["file_name"],
        max_bytes=settings.import_max_bytes,
        mapping=data["mapping"],
        expected_sha256=data["sha256"],
        token=data["token"],
    )
    await state.clear()
    await query.answer(_("Imported."))
    await query.message.edit_reply_markup(reply_markup=None)
    await query.message.answer(summary_text(result))


@handlers.callback_query(ImportCb.filter(F.action == ImportAction.COLUMNS))
async def show_columns(
    query: CallbackQuery, callback_data: ImportCb, state: FSMContext, user: User
) -> None:
    data = await _current(query, callback_data, state)
    if not data or not isinstance(query.message, Message):
        return
    service.require_importer(user)
    headers = data.get("headers") or []
    await query.answer()
    await query.message.edit_text(
        _(
            "<b>Columns of {file}</b>\nTap a column to choose what it holds, or to ignore it."
        ).format(file=escape(short(data["file_name"], VALUE_SHOWN))),
        reply_markup=columns_keyboard(data["token"], headers, data["mapping"]),
    )


@handlers.callback_query(ImportCb.filter(F.action == ImportAction.COLUMN))
async def pick_column(
    query: CallbackQuery, callback_data: ImportCb, state: FSMContext, user: User
) -> None:
    data = await _current(query, callback_data, state)
    if not data or not isinstance(query.message, Message):
        return
    service.require_importer(user)
    headers, mapping = data.get("headers") or [], data["mapping"]
    column = callback_data.column
    if not 0 <= column < len(mapping):
        await query.answer(_("This button is no longer active."))
        return
    await query.answer()
    await query.message.edit_text(
        _("What does column {letter} “{header}” hold?").format(
            letter=column_letter(column), header=escape(short(headers[column]) or "—")
        ),
        reply_markup=fields_keyboard(data["token"], column, mapping[column]),
    )


@handlers.callback_query(ImportCb.filter(F.action.in_({ImportAction.MAP, ImportAction.PREVIEW})))
async def mapped(
    query: CallbackQuery,
    callback_data: ImportCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    bot: Bot,
    settings: Settings,
) -> None:
    """A column's field picked (then the preview again), or Back to the preview."""
    data = await _current(query, callback_data, state)
    if not data or not isinstance(query.message, Message):
        return
    if callback_data.action is ImportAction.MAP:
        data["mapping"] = service.set_column(
            data["mapping"], callback_data.column, callback_data.field
        )
        await state.update_data(mapping=data["mapping"])
    preview = await _preview_again(data, session, user, bot, settings)
    await query.answer()
    await query.message.edit_text(
        preview_text(preview, user),
        reply_markup=preview_keyboard(data["token"], len(preview.good)),
    )


# Texts


def _value(text: str) -> str:
    return escape(short(text, VALUE_SHOWN))


def problem_text(problem: service.Problem) -> str:
    label, value = field_label(problem.field), _value(problem.value)
    if problem.reason == service.MISSING:
        return _("no name")
    if problem.reason == service.TOO_LONG:
        return _("{field} too long").format(field=label)
    if problem.reason == service.AMBIGUOUS:
        return _("“{value}” matches several users").format(value=value)
    if problem.reason == service.UNKNOWN and problem.field == "owner":
        return _("no active user “{value}”").format(value=value)
    if problem.reason == service.UNKNOWN:
        return _("{field} “{value}” is not in the list").format(field=label, value=value)
    return _("bad {field} “{value}”").format(field=label, value=value)


def duplicate_text(duplicate: service.DuplicateRow) -> str:
    label = field_label(duplicate.field)
    if duplicate.other_row is not None:
        return _("{row}: {name}: same {field} as row {other}").format(
            row=duplicate.row,
            name=_value(duplicate.name),
            field=label,
            other=duplicate.other_row,
        )
    return _("{row}: {name}: same {field} as the client “{existing}”").format(
        row=duplicate.row,
        name=_value(duplicate.name),
        field=label,
        existing=_value(duplicate.existing or ""),
    )


def _listed(title: str, lines: list[str], limit: int) -> list[str]:
    if not lines:
        return []
    shown = [title, *lines[:limit]]
    if len(lines) > limit:
        shown.append(_("…and {count} more.").format(count=len(lines) - limit))
    return ["", *shown]


def _columns(preview: service.Preview, compact: bool) -> list[str]:
    lines = ["", _("<b>Columns</b>")]
    ignored = []
    for index, (header, field) in enumerate(zip(preview.headers, preview.mapping, strict=True)):
        title = f"{column_letter(index)} “{escape(short(header) or '—')}”"
        if field:
            lines.append(f"{title} → {field_label(field)}")
        elif compact:
            ignored.append(column_letter(index))
        else:
            lines.append(f"{title} → {field_label('')}")
    if ignored:
        lines.append(_("Ignored: {columns}.").format(columns=", ".join(ignored)))
    if preview.dropped_columns:
        lines.append(
            _("Columns after the {limit}th are left out: {count}.").format(
                count=preview.dropped_columns, limit=service.MAX_COLUMNS
            )
        )
    return lines


def _render(preview: service.Preview, user: User, limit: int, compact: bool) -> str:
    lines = [
        _("<b>Import from {file}</b>").format(file=_value(preview.file_name)),
        _("Rows: {total}. Ready to import: {good}. With errors: {bad}. Duplicates: {dups}.").format(
            total=preview.total,
            good=len(preview.good),
            bad=len(preview.bad),
            dups=len(preview.duplicates),
        ),
        *_columns(preview, compact),
    ]
    if preview.default_owner_rows:
        lines += [
            "",
            _("Rows without an owner ({count}) will be yours, {name}.").format(
                count=preview.default_owner_rows, name=escape(user.full_name)
            ),
        ]
    first = [
        " · ".join(
            escape(short(part, VALUE_SHOWN))
            for part in (
                f"{row.row}. {row.values['name']}",
                row.values.get("phone") or row.values.get("email") or "",
                row.owner_name,
            )
            if part
        )
        for row in preview.good
    ]
    lines += _listed(_("<b>First rows</b>"), first, min(limit, 5))
    bad = [
        f"{row.row}: " + "; ".join(problem_text(problem) for problem in row.problems)
        for row in preview.bad
    ]
    lines += _listed(_("<b>Rows with errors</b> (skipped):"), bad, limit)
    duplicates = [duplicate_text(duplicate) for duplicate in preview.duplicates]
    lines += _listed(_("<b>Duplicates</b> (skipped):"), duplicates, limit)
    for field, names in sorted(preview.unknown.items()):
        listed = ", ".join(
            f"{_value(name)} ({count})" for name, count in list(names.items())[: max(limit, 3)]
        )
        if len(names) > max(limit, 3):
            listed += ", …"
        if field == "region":
            note = _("Not in the list of regions: {names}.")
        else:
            note = _("Not in the list of industries: {names}.")
        lines += [
            "",
            note.format(names=listed) + " " + _("Add them in 🛠 Admin, then send the file again."),
        ]
    lines.append("")
    if preview.good:
        lines.append(
            _("New clients are companies with status Lead. Nothing is saved until you tap ✅.")
        )
    else:
        lines.append(_("There is nothing to import: fix the file and send it again."))
    return "\n".join(lines)


def preview_text(preview: service.Preview, user: User) -> str:
    """The preview, its lists shortened until it fits one Telegram message."""
    for limit, compact in ((10, False), (5, False), (5, True), (3, True), (1, True)):
        text = _render(preview, user, limit, compact)
        if len(text) <= TEXT_LIMIT:
            return text
    return text[: TEXT_LIMIT - 1].rsplit("\n", 1)[0]


def summary_text(result: service.ImportResult) -> str:
    text = _("✅ Clients imported from {file}: {imported} of {total} rows.").format(
        imported=result.imported, total=result.total, file=_value(result.file_name)
    )
    if result.bad or result.duplicates:
        text += "\n" + _(
            "Skipped rows with errors: {bad}, duplicates: {dups}. Fix those rows and send the "
            "file again: the rows imported now will be recognized as duplicates and skipped."
        ).format(bad=result.bad, dups=result.duplicates)
    return text
