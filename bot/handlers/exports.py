"""📤 Export: /export, the admin home's and the team screen's button. What, then the period,
then the format; the file comes back as a protected document. The rules (who, how many, what
rows, audit and the admins' notice) are all in bot.services.exports."""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import CatalogAction, CatalogCb, ExportCb, TeamAction, TeamCb
from bot.keyboards.exports import formats_keyboard, kind_label, kinds_keyboard, period_label
from bot.keyboards.exports import periods_keyboard as periods_markup
from bot.services import exports
from bot.services.audit_log import AuditFilter
from bot.services.errors import DomainError
from bot.services.exports import ExportFile, ExportKind, ExportPeriod
from db.models import Role, User

handlers = Handlers("exports")


def _days(done: ExportFile) -> str:
    return f"{done.first:%d.%m.%Y}–{done.last:%d.%m.%Y}"


def announcement(admin: User, done: ExportFile) -> str:
    """The admins' notice of an export, in each admin's own language."""
    with I18n.get_current().use_locale(admin.locale):
        return _(
            "📤 <b>Export</b>: {name} exported {what} for {days}: {rows} rows, {format}.\n"
            "File: {file}"
        ).format(
            name=escape(done.actor_name),
            what=kind_label(done.kind),
            days=_days(done),
            rows=done.rows,
            format=done.format.value.upper(),
            file=escape(done.file_name),
        )


async def menu(
    session: AsyncSession, user: User, settings: Settings, clock: Clock
) -> tuple[str, InlineKeyboardMarkup]:
    kinds = exports.kinds_for(user)  # refuses anyone but heads and admins
    left = await exports.exports_left(session, user, clock.now(), settings.exports_per_day)
    scope = _("the whole company") if user.role is Role.ADMIN else _("your department")
    text = _(
        "<b>📤 Export</b> of {scope} as an Excel or CSV file. What would you like to export?\n"
        "Exports left today: {left} of {limit}."
    ).format(scope=scope, left=left, limit=settings.exports_per_day)
    back = (
        CatalogCb(action=CatalogAction.HOME)
        if user.role is Role.ADMIN
        else TeamCb(action=TeamAction.PAGE)
    )
    keyboard = kinds_keyboard(kinds, back)
    return text, keyboard


@handlers.message(Command("export"))
async def export_command(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    await state.clear()
    text, keyboard = await menu(session, user, settings, clock)
    await message.answer(text, reply_markup=keyboard)


@handlers.callback_query(ExportCb.filter(F.kind == ""))
async def export_home(
    query: CallbackQuery,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    text, keyboard = await menu(session, user, settings, clock)
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=keyboard)


def _choice_title(kind: ExportKind, choice: ExportCb) -> str:
    title = f"<b>{kind_label(kind)}</b>"
    if choice.user or choice.act:
        title += " " + _("(with the log's filters)")
    return title


@handlers.callback_query(ExportCb.filter(F.kind != ""))
async def export_step(
    query: CallbackQuery,
    callback_data: ExportCb,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    exports.require_exporter(user)  # before anything is read from the callback data
    kind = exports.kind_from(callback_data.kind)
    exports.require_exporter(user, kind)
    if not isinstance(query.message, Message):
        await query.answer()
        return
    if not callback_data.period:
        await query.answer()
        await query.message.edit_text(
            _choice_title(kind, callback_data) + ": " + _("for which period?"),
            reply_markup=periods_markup(callback_data),
        )
        return
    period = exports.period_from(callback_data.period)
    if not callback_data.fmt:
        await query.answer()
        await query.message.edit_text(
            _choice_title(kind, callback_data)
            + ", "
            + period_label(period).lower()
            + ": "
            + _("which format?"),
            reply_markup=formats_keyboard(callback_data),
        )
        return
    await _export(query, query.message, callback_data, kind, period, session, user, settings, clock)


async def _export(
    query: CallbackQuery,
    message: Message,
    choice: ExportCb,
    kind: ExportKind,
    period: ExportPeriod,
    session: AsyncSession,
    user: User,
    settings: Settings,
    clock: Clock,
) -> None:
    fmt = exports.format_from(choice.fmt)
    flt = AuditFilter(choice.user or None, choice.act or None) if kind is ExportKind.AUDIT else None
    # Refusals before the query is answered are shown by the errors middleware as an alert.
    await exports.check_limit(session, user, clock.now(), settings.exports_per_day)
    await query.answer()
    await message.edit_text(_("⏳ Preparing the file…"))
    try:
        done = await exports.export(
            session,
            user,
            kind,
            period,
            fmt,
            now=clock.now(),
            per_day=settings.exports_per_day,
            announce=announcement,
            audit_filter=flt,
        )
    except DomainError as error:  # nothing in the period, too large: pick another period
        again = choice.model_copy(update={"period": "", "fmt": ""})
        await message.edit_text(
            _(error.message).format(**error.params), reply_markup=periods_markup(again)
        )
        return
    await message.edit_text(
        _("✅ {what}, {days}: {rows} rows. The file is below.").format(
            what=kind_label(kind), days=_days(done), rows=done.rows
        )
    )
    await message.answer_document(
        BufferedInputFile(done.data, filename=done.file_name),
        caption=_("📤 {what}, {days}: {rows} rows. Times are in {zone}.").format(
            what=kind_label(kind), days=_days(done), rows=done.rows, zone=user.timezone
        ),
        protect_content=True,
    )
