from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import (
    AuditLogCb,
    AuditLogView,
    CatalogAction,
    CatalogCb,
    ExportCb,
    ImportAction,
    ImportCb,
    InlineSwitchCb,
    StageCb,
)
from bot.keyboards.common import PAGE_SIZE, pager_row
from bot.texts import department_kind_label, reference_kind_label, stage_label
from db.models import (
    OPEN_STAGES,
    DealStage,
    Department,
    DepartmentKind,
    ReferenceItem,
    ReferenceKind,
)

DEPARTMENTS = "department"


def catalog_title(catalog: str) -> str:
    if catalog == DEPARTMENTS:
        return _("Departments")
    return reference_kind_label(ReferenceKind(catalog))


def admin_home_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for catalog, icon in (
        (DEPARTMENTS, "🏢"),
        (ReferenceKind.PRODUCT_LINE.value, "📦"),
        (ReferenceKind.INDUSTRY.value, "🏭"),
        (ReferenceKind.REGION.value, "🗺"),
        (ReferenceKind.LEAD_SOURCE.value, "📣"),
        (ReferenceKind.LOST_REASON.value, "❌"),
    ):
        builder.button(
            text=f"{icon} {catalog_title(catalog)}",
            callback_data=CatalogCb(action=CatalogAction.LIST, catalog=catalog),
        )
    builder.button(text=_("🎯 Deal stages"), callback_data=StageCb())
    builder.button(text=_("📲 Inline search"), callback_data=InlineSwitchCb())
    builder.button(text=_("📤 Export"), callback_data=ExportCb())
    builder.button(text=_("📜 Audit log"), callback_data=AuditLogCb(view=AuditLogView.PAGE))
    builder.button(text=_("📥 Import clients"), callback_data=ImportCb(action=ImportAction.START))
    builder.adjust(1)
    return builder.as_markup()


def stages_keyboard(percents: dict[DealStage, int]) -> InlineKeyboardMarkup:
    """An open stage per button with its chance, then back to the admin's home."""
    builder = InlineKeyboardBuilder()
    for stage in OPEN_STAGES:
        builder.button(
            text=f"{stage_label(stage)}: {percents[stage]}%",
            callback_data=StageCb(stage=stage.value),
        )
    builder.button(text=_("← Back"), callback_data=CatalogCb(action=CatalogAction.HOME))
    builder.adjust(1)
    return builder.as_markup()


def inline_switch_keyboard(enabled: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    if enabled:
        builder.button(text=_("Turn off for managers"), callback_data=InlineSwitchCb(value="off"))
    else:
        builder.button(text=_("Turn on for managers"), callback_data=InlineSwitchCb(value="on"))
    builder.button(text=_("← Back"), callback_data=CatalogCb(action=CatalogAction.HOME))
    builder.adjust(1)
    return builder.as_markup()


def catalog_keyboard(
    catalog: str, items: Sequence[Department | ReferenceItem], page: int
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for item in items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
        builder.button(
            text=("🗄 " if item.archived else "") + item.name,
            callback_data=CatalogCb(
                action=CatalogAction.OPEN, catalog=catalog, item_id=item.id, page=page
            ),
        )
    builder.adjust(1)
    builder.row(
        *pager_row(
            page,
            len(items),
            lambda p: CatalogCb(action=CatalogAction.LIST, catalog=catalog, page=p).pack(),
        )
    )
    builder.row(
        InlineKeyboardButton(
            text=_("➕ Add"),
            callback_data=CatalogCb(action=CatalogAction.ADD, catalog=catalog).pack(),
        ),
        InlineKeyboardButton(
            text=_("← Back"), callback_data=CatalogCb(action=CatalogAction.HOME).pack()
        ),
    )
    return builder.as_markup()


def item_keyboard(
    catalog: str, item: Department | ReferenceItem, page: int
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()

    def button(text: str, action: CatalogAction) -> None:
        builder.button(
            text=text,
            callback_data=CatalogCb(action=action, catalog=catalog, item_id=item.id, page=page),
        )

    button(_("✏️ Rename"), CatalogAction.RENAME)
    if item.archived:
        button(_("♻️ Restore"), CatalogAction.RESTORE)
    else:
        button(_("🗄 Archive"), CatalogAction.ARCHIVE)
    builder.button(
        text=_("← Back"),
        callback_data=CatalogCb(action=CatalogAction.LIST, catalog=catalog, page=page),
    )
    builder.adjust(2, 1)
    return builder.as_markup()


def department_kinds() -> list[tuple[str, str]]:
    return [
        (
            department_kind_label(kind),
            CatalogCb(action=CatalogAction.KIND, catalog=DEPARTMENTS, value=kind.value).pack(),
        )
        for kind in DepartmentKind
    ]
