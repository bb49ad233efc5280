"""Keyboards of 📊 KPI: the period picker (day, week, month, quarter, ◀ previous / next ▶), the
slices a head or an admin can open from a dashboard, and a breakdown's rows as buttons.

A screen travels whole in its KpiCb (ids and short codes only), so every button works on its
own, also after a restart; the handler checks every id again (kpi.check_slice)."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.keyboards.callbacks import KpiCb, KpiView
from bot.services.errors import InvalidInput
from bot.services.kpi import Dimension, PeriodKind
from bot.texts import one_line

BUTTON_TEXT_MAX = 40
PERIODS = (PeriodKind.DAY, PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER)
# Dimensions travel as two letters (64 bytes of callback data at most).
CODES = {
    Dimension.MANAGER: "mg",
    Dimension.DEPARTMENT: "dp",
    Dimension.PRODUCT_LINE: "pl",
    Dimension.INDUSTRY: "in",
    Dimension.REGION: "rg",
    Dimension.LEAD_SOURCE: "ls",
}
# The lists a dashboard can be narrowed to one item of (a product line, an industry...).
ITEM_DIMENSIONS = (
    Dimension.PRODUCT_LINE,
    Dimension.INDUSTRY,
    Dimension.REGION,
    Dimension.LEAD_SOURCE,
)


def code(dimension: Dimension) -> str:
    return CODES[dimension]


def dimension_of(value: str) -> Dimension:
    """A dimension from callback data, which is never trusted."""
    for dimension, found in CODES.items():
        if found == value:
            return dimension
    raise InvalidInput()


def period_label(kind: PeriodKind) -> str:
    return {
        PeriodKind.DAY: _("Day"),
        PeriodKind.WEEK: _("Week"),
        PeriodKind.MONTH: _("Month"),
        PeriodKind.QUARTER: _("Quarter"),
    }[kind]


def dimension_label(dimension: Dimension) -> str:
    return {
        Dimension.MANAGER: _("👤 Managers"),
        Dimension.DEPARTMENT: _("🏢 Departments"),
        Dimension.PRODUCT_LINE: _("📦 Product lines"),
        Dimension.INDUSTRY: _("🏭 Industries"),
        Dimension.REGION: _("🌍 Regions"),
        Dimension.LEAD_SOURCE: _("📣 Lead sources"),
    }[dimension]


def _button(text: str, data: KpiCb) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def period_rows(current: KpiCb) -> list[list[InlineKeyboardButton]]:
    """Day · Week · Month · Quarter (the current one marked), then ◀ Previous / Next ▶ and
    📅 Dates (a range typed by the user; ◀ ▶ then step by as many days)."""
    kinds = []
    for kind in PERIODS:
        mark = "• " if kind.value == current.period else ""
        data = current.model_copy(update={"period": kind.value, "ago": 0, "since": 0, "days": 0})
        kinds.append(_button(mark + period_label(kind), data))
    steps = [_button(_("◀ Previous"), current.model_copy(update={"ago": current.ago + 1}))]
    if current.ago > 0:
        steps.append(_button(_("Next ▶"), current.model_copy(update={"ago": current.ago - 1})))
    custom = current.period == PeriodKind.CUSTOM.value
    dates = current.model_copy(update={"view": KpiView.DATES})
    steps.append(_button(("• " if custom else "") + _("📅 Dates"), dates))
    return [kinds, steps]


def dashboard_keyboard(
    current: KpiCb, breakdowns: Sequence[Dimension], up: tuple[str, KpiCb] | None
) -> InlineKeyboardMarkup:
    """The period picker, a button per breakdown on offer (two a row), and the way back up
    (label, screen) after a drill-down."""
    rows = period_rows(current)
    offered = [
        _button(
            dimension_label(dimension),
            current.model_copy(
                update={"view": KpiView.BREAKDOWN, "dimension": code(dimension), "item": 0}
            ),
        )
        for dimension in breakdowns
    ]
    rows += [offered[n : n + 2] for n in range(0, len(offered), 2)]
    if up is not None:
        rows.append([_button(up[0], up[1])])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def breakdown_keyboard(
    current: KpiCb, targets: Sequence[tuple[str, KpiCb]], back: KpiCb
) -> InlineKeyboardMarkup:
    """The period picker, a button per row (label, its dashboard), then back to the dashboard."""
    rows = period_rows(current)
    rows += [[_button(one_line(label, BUTTON_TEXT_MAX), data)] for label, data in targets]
    rows.append([_button(_("← Dashboard"), back)])
    return InlineKeyboardMarkup(inline_keyboard=rows)
