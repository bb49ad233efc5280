"""Keyboards of 💼 Deals: the pipeline screen, its open deals, and the breakdowns by manager,
product line and department. A scope travels as ids only (owner or department, or neither for
the viewer's own pipeline)."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import (
    DealAction,
    DealCb,
    PipelineAction,
    PipelineCb,
    PlanAction,
    PlanCb,
)
from bot.keyboards.common import pager_row
from bot.services.deals import PAGE_SIZE, Scope
from bot.texts import one_line, stage_label
from db.models import OPEN_STAGES, Deal, DealStage

BUTTON_TEXT_MAX = 40
STALE_MARK = "⚠️"


def pipeline_cb(action: PipelineAction, scope: Scope, **values) -> PipelineCb:
    return PipelineCb(
        action=action, owner=scope.owner_id or 0, department=scope.department_id or 0, **values
    )


def _button(text: str, data: PipelineCb | PlanCb | DealCb) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def pipeline_keyboard(
    scope: Scope, *, breakdowns: bool, departments: bool, plans: bool, up: Scope | None
) -> InlineKeyboardMarkup:
    """📋 Open deals, ➕ New deal; for heads and admins the breakdowns and 📋 Plans; after a
    drill-down, back to the list it came from: "← Team" for a manager, "← Departments" for a
    department (`up` is the scope of that list)."""
    rows = [
        [_button(_("📋 Open deals"), pipeline_cb(PipelineAction.LIST, scope))],
        [_button(_("➕ New deal"), PipelineCb(action=PipelineAction.NEW))],
    ]
    if breakdowns:
        row = [_button(_("📦 By product line"), pipeline_cb(PipelineAction.LINES, scope))]
        if scope.owner_id is None:
            row.insert(0, _button(_("👥 By manager"), pipeline_cb(PipelineAction.OWNERS, scope)))
        rows.append(row)
    if departments:
        rows.append(
            [_button(_("🏢 By department"), pipeline_cb(PipelineAction.DEPARTMENTS, scope))]
        )
    if plans:
        rows.append([_button(_("📋 Plans"), PlanCb(action=PlanAction.HOME))])
    if up is not None and scope.owner_id is not None:
        rows.append([_button(_("← Team"), pipeline_cb(PipelineAction.OWNERS, up))])
    elif up is not None:
        rows.append([_button(_("← Departments"), pipeline_cb(PipelineAction.DEPARTMENTS, up))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def drill_down_keyboard(
    scope: Scope,
    targets: Sequence[tuple[str, Scope]],
    pages: Sequence[InlineKeyboardButton] = (),
) -> InlineKeyboardMarkup:
    """A button per manager or department (label, their scope), the pages, then back to the
    pipeline."""
    builder = InlineKeyboardBuilder()
    for label, target in targets:
        builder.button(
            text=one_line(label, BUTTON_TEXT_MAX),
            callback_data=pipeline_cb(PipelineAction.HOME, target),
        )
    builder.adjust(1)
    if pages:
        builder.row(*pages)
    builder.row(_button(_("← Pipeline"), pipeline_cb(PipelineAction.HOME, scope)))
    return builder.as_markup()


def deal_label(number: int, deal: Deal, stale: bool) -> str:
    return one_line(f"{STALE_MARK + ' ' if stale else ''}{number}. {deal.title}", BUTTON_TEXT_MAX)


def deals_keyboard(
    scope: Scope,
    shown: Sequence[tuple[int, Deal, bool]],
    stage: DealStage | None,
    page: int,
    total: int,
) -> InlineKeyboardMarkup:
    """A button per deal (number, deal, stale), the stage filter, the pages, back."""
    builder = InlineKeyboardBuilder()
    for number, deal, stale in shown:
        builder.button(
            text=deal_label(number, deal, stale),
            callback_data=DealCb(action=DealAction.OPEN, deal_id=deal.id),
        )
    builder.adjust(1)
    stage_value = stage.value if stage else ""
    pages = pager_row(
        page,
        total,
        lambda p: pipeline_cb(PipelineAction.LIST, scope, stage=stage_value, page=p).pack(),
        page_size=PAGE_SIZE,
    )
    if pages:
        builder.row(*pages)
    choices = [("", _("All"))] + [(s.value, stage_label(s)) for s in OPEN_STAGES]
    filters = [
        _button(
            ("• " if value == stage_value else "") + label,
            pipeline_cb(PipelineAction.LIST, scope, stage=value),
        )
        for value, label in choices
    ]
    builder.row(*filters[:3])
    builder.row(*filters[3:])
    builder.row(_button(_("← Pipeline"), pipeline_cb(PipelineAction.HOME, scope)))
    return builder.as_markup()
