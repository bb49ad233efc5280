"""💼 Deals: the pipeline of a scope (one's own, a department, the company) with this month's
plan against fact, open deals by stage with sums weighted by each stage's chance, and for heads
and admins the same by manager, product line and department.

A scope comes from callback data (ids only) and is checked by the deals service for every
screen; neither id means the viewer's own pipeline (deals.home_scope)."""

from __future__ import annotations

from datetime import date, datetime
from html import escape

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.handlers.plans import plan_fact_lines, zone
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import PipelineAction, PipelineCb
from bot.keyboards.common import pager_row
from bot.keyboards.pipeline import (
    STALE_MARK,
    deals_keyboard,
    drill_down_keyboard,
    pipeline_cb,
    pipeline_keyboard,
)
from bot.services import catalog, deals, plans, users
from bot.services.deals import PipelineRow, Scope
from bot.services.errors import InvalidInput
from bot.services.money import format_money, format_sums
from bot.services.plans import PlanFact
from bot.texts import one_line, stage_label
from db.models import DealStage, PlanSubject, Role, User

handlers = Handlers("pipeline")

ROWS_MAX = 30  # managers, lines or departments on one screen (4096 characters a message)
TITLE_MAX = 60  # a deal's title in the list; its card shows it whole
NAME_MAX = 40


def scope_of(callback_data: PipelineCb, user: User) -> Scope:
    if callback_data.owner:
        return Scope(owner_id=callback_data.owner)
    if callback_data.department:
        return Scope(department_id=callback_data.department)
    return deals.home_scope(user)


def _today(user: User, now: datetime) -> date:
    return now.astimezone(zone(user)).date()


async def _title(session: AsyncSession, user: User, scope: Scope) -> tuple[str, User | None]:
    """Whose pipeline (escaped), and the owner when it is one person's. Called after the
    scope was checked."""
    if scope.owner_id is not None:
        owner = (
            user
            if scope.owner_id == user.id
            else await users.get_visible(session, user, scope.owner_id)
        )
        return escape(owner.full_name), owner
    if scope.department_id is not None:
        if user.department is not None and user.department_id == scope.department_id:
            return escape(user.department.name), None
        department = await catalog.get_department(session, user, scope.department_id)
        return escape(department.name), None
    return _("Company"), None


def figures_text(row: PipelineRow, user: User, currency: str) -> str:
    """ "3 · 350K ₽ · 135K ₽": count, sum, weighted sum."""
    if not row.count:
        return "—"
    return " · ".join(
        (
            str(row.count),
            format_sums(row.sums, user.locale, currency),
            format_sums(row.weighted, user.locale, currency),
        )
    )


async def _plan_fact(
    session: AsyncSession, user: User, scope: Scope, now: datetime, currency: str
) -> PlanFact:
    """This month's plan against fact of a scope: one person's, a department's, the company's."""
    today = _today(user, now)
    month = plans.month_of(today)
    if scope.owner_id is not None:
        subject, subject_id = PlanSubject.USER, scope.owner_id
    elif scope.department_id is not None:
        subject, subject_id = PlanSubject.DEPARTMENT, scope.department_id
    else:
        return await plans.company_plan_vs_fact(session, user, month, today, zone(user), currency)
    found = await plans.plan_vs_fact(
        session, user, subject, [subject_id], month, today, zone(user), currency
    )
    return found[subject_id]


def _no_plan_hint(user: User, scope: Scope) -> str | None:
    if user.role is Role.HEAD and scope.department_id is not None:
        return _(
            "The department's plan is set by an administrator; your managers' plans are in "
            "📋 Plans."
        )
    if user.role in (Role.HEAD, Role.ADMIN):
        return _("Set it in 📋 Plans.")
    return None


def _up(user: User, scope: Scope, owner: User | None) -> Scope | None:
    """Where a drill-down came from: a manager's team (their department, or the company for
    an admin when they have none), or for an admin a department's company."""
    if owner is not None and owner.id != user.id and user.role in (Role.HEAD, Role.ADMIN):
        return Scope(department_id=owner.department_id) if owner.department_id else Scope()
    if scope.department_id is not None and user.role is Role.ADMIN:
        return Scope()
    return None


async def pipeline_view(
    session: AsyncSession, user: User, scope: Scope, clock: Clock, settings: Settings
) -> tuple[str, InlineKeyboardMarkup]:
    now, currency = clock.now(), settings.default_currency
    figures = await deals.pipeline(
        session, user, scope, now, _today(user, now), settings.deal_stale_days
    )
    title, owner = await _title(session, user, scope)
    fact = await _plan_fact(session, user, scope, now, currency)
    percents = await deals.probabilities(session)
    lines = [
        _("💼 <b>Pipeline: {whose}</b>").format(whose=title),
        *plan_fact_lines(fact, user, currency),
    ]
    if fact.plan is None and (hint := _no_plan_hint(user, scope)):
        lines.append(hint)
    lines += ["", _("<b>Open deals</b>: count · sum · weighted by the stage's chance")]
    for row in figures.by_stage:
        stage = DealStage(row.key)
        lines.append(
            _("{stage}, {percent}%: {figures}").format(
                stage=stage_label(stage),
                percent=percents[stage],
                figures=figures_text(row, user, currency),
            )
        )
    lines.append(
        _("<b>Total: {figures}</b>").format(figures=figures_text(figures.total, user, currency))
    )
    if figures.total.stale:
        lines.append(
            _("⚠️ Stale: {count} (no activity for {days} days, or past the close date)").format(
                count=figures.total.stale, days=settings.deal_stale_days
            )
        )
    staff = user.role in (Role.HEAD, Role.ADMIN)
    keyboard = pipeline_keyboard(
        scope,
        breakdowns=staff,
        departments=user.role is Role.ADMIN and scope.company,
        plans=staff,
        up=_up(user, scope, owner),
    )
    return "\n".join(lines), keyboard


async def deals_screen(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    await state.clear()
    text, keyboard = await pipeline_view(session, user, deals.home_scope(user), clock, settings)
    await message.answer(text, reply_markup=keyboard)


async def _edit(query: CallbackQuery, view: tuple[str, InlineKeyboardMarkup]) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(view[0], reply_markup=view[1])


@handlers.callback_query(PipelineCb.filter(F.action == PipelineAction.HOME))
async def pipeline_home(
    query: CallbackQuery,
    callback_data: PipelineCb,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    scope = scope_of(callback_data, user)
    await _edit(query, await pipeline_view(session, user, scope, clock, settings))


# Open deals, paged, optionally of one stage


def _stage(value: str) -> DealStage | None:
    if not value:
        return None
    stage = deals.stage_from(value)
    if not stage.is_open:
        raise InvalidInput()
    return stage


async def list_view(
    session: AsyncSession,
    user: User,
    scope: Scope,
    stage: DealStage | None,
    page: int,
    clock: Clock,
    settings: Settings,
) -> tuple[str, InlineKeyboardMarkup]:
    page = max(page, 0)
    found, total = await deals.deals_page(session, user, scope, page, stage=stage)
    if not found and total:  # the list got shorter since: its last page
        page = max((total - 1) // deals.PAGE_SIZE, 0)
        found, total = await deals.deals_page(session, user, scope, page, stage=stage)
    title, _owner = await _title(session, user, scope)
    now = clock.now()
    today = _today(user, now)
    heading = _("📋 <b>Open deals: {whose}</b> ({count})").format(whose=title, count=total)
    if stage is not None:
        heading += "\n" + _("Stage: {stage}").format(stage=stage_label(stage))
    lines, shown, any_stale = [heading, ""], [], False
    for index, deal in enumerate(found):
        number = page * deals.PAGE_SIZE + index + 1
        stale = deals.is_stale(deal, now, today, settings.deal_stale_days)
        any_stale = any_stale or stale
        amount = format_money(deal.amount_minor, deal.currency, user.locale)
        mark = f"{STALE_MARK} " if stale else ""
        name = escape(one_line(deal.title, TITLE_MAX))
        client = escape(one_line(deal.client.name, NAME_MAX))
        lines.append(
            f"{mark}{number}. <b>{name}</b> — {client} · {stage_label(deal.stage)} · {amount}"
        )
        shown.append((number, deal, stale))
    if not total:
        lines.append(_("No open deals here."))
    elif any_stale:
        lines += [
            "",
            _("⚠️ no activity for {days} days, or past the close date.").format(
                days=settings.deal_stale_days
            ),
        ]
    return "\n".join(lines), deals_keyboard(scope, shown, stage, page, total)


@handlers.callback_query(PipelineCb.filter(F.action == PipelineAction.LIST))
async def open_deals(
    query: CallbackQuery,
    callback_data: PipelineCb,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    scope = scope_of(callback_data, user)
    stage = _stage(callback_data.stage)
    view = await list_view(session, user, scope, stage, callback_data.page, clock, settings)
    await _edit(query, view)


# By manager, by product line, by department


def _rows_text(heading: str, rows: list[tuple[str, PipelineRow]], user: User, currency: str):
    """One page of rows (the caller cuts it): a heading, then a line per row."""
    lines = [heading, _("count · sum · weighted"), ""]
    for label, row in rows:
        line = f"<b>{escape(one_line(label, NAME_MAX))}</b>: {figures_text(row, user, currency)}"
        if row.stale:
            line += f" · {STALE_MARK} {row.stale}"
        lines.append(line)
    if not rows:
        lines.append(_("No open deals here."))
    return "\n".join(lines)


async def breakdown_view(
    session: AsyncSession,
    user: User,
    scope: Scope,
    action: PipelineAction,
    page: int,
    clock: Clock,
    settings: Settings,
) -> tuple[str, InlineKeyboardMarkup]:
    """By manager, product line or department, ROWS_MAX to a page (a department of fifty
    managers has two), each manager or department a button to their own pipeline."""
    now, currency = clock.now(), settings.default_currency
    figures = await deals.pipeline(
        session, user, scope, now, _today(user, now), settings.deal_stale_days
    )
    title, _owner = await _title(session, user, scope)
    targets: list[tuple[str, Scope]] = []
    if action is PipelineAction.OWNERS:
        heading = _("👥 <b>{whose}</b> by manager").format(whose=title)
        rows = [(row.label, row) for row in figures.by_owner]
        targets = [(row.label, Scope(owner_id=int(row.key))) for row in figures.by_owner]
    elif action is PipelineAction.LINES:
        heading = _("📦 <b>{whose}</b> by product line").format(whose=title)
        rows = [(row.label or _("No product line"), row) for row in figures.by_product_line]
    else:
        heading = _("🏢 <b>{whose}</b> by department").format(whose=title)
        rows = [(row.label or _("No department"), row) for row in figures.by_department]
        targets = [
            (row.label, Scope(department_id=int(row.key)))
            for row in figures.by_department
            if row.key is not None
        ]
    page = min(max(page, 0), max(len(rows) - 1, 0) // ROWS_MAX)
    shown = slice(page * ROWS_MAX, (page + 1) * ROWS_MAX)
    text = _rows_text(heading, rows[shown], user, currency)
    pages = pager_row(
        page,
        len(rows),
        lambda number: pipeline_cb(action, scope, page=number).pack(),
        page_size=ROWS_MAX,
    )
    return text, drill_down_keyboard(scope, targets[shown], pages)


@handlers.callback_query(
    PipelineCb.filter(
        F.action.in_({PipelineAction.OWNERS, PipelineAction.LINES, PipelineAction.DEPARTMENTS})
    )
)
async def breakdown(
    query: CallbackQuery,
    callback_data: PipelineCb,
    session: AsyncSession,
    user: User,
    clock: Clock,
    settings: Settings,
) -> None:
    scope = scope_of(callback_data, user)
    action, page = callback_data.action, callback_data.page
    view = await breakdown_view(session, user, scope, action, page, clock, settings)
    await _edit(query, view)
