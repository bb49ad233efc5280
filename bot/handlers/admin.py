"""Admin screens: departments, the reference lists everyone picks from, and the chance of a
deal at each stage (it weights the pipeline's sums)."""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.flows import go, step
from bot.handlers.registry import Handlers
from bot.keyboards.admin import (
    DEPARTMENTS,
    admin_home_keyboard,
    catalog_keyboard,
    catalog_title,
    department_kinds,
    inline_switch_keyboard,
    item_keyboard,
    stages_keyboard,
)
from bot.keyboards.callbacks import CatalogAction, CatalogCb, InlineSwitchCb, StageCb
from bot.keyboards.common import nav_keyboard, step_keyboard
from bot.services import app_settings, deals
from bot.services import catalog as service
from bot.services.access import require_role
from bot.services.errors import InvalidInput
from bot.states import DepartmentForm, ReferenceForm, StageForm
from bot.texts import department_kind_label, stage_label
from db.models import Department, DepartmentKind, ReferenceItem, ReferenceKind, Role, User

handlers = Handlers("admin")


# Reading the catalogs


async def _items(session: AsyncSession, user: User, catalog: str):
    if catalog == DEPARTMENTS:
        return await service.departments(session, user)
    return await service.reference_items(session, user, ReferenceKind(catalog))


async def _item(session: AsyncSession, user: User, catalog: str, item_id: int):
    if catalog == DEPARTMENTS:
        return await service.get_department(session, user, item_id)
    return await service.get_reference_item(session, user, item_id)


def item_text(item: Department | ReferenceItem) -> str:
    lines = [f"<b>{escape(item.name)}</b>"]
    if isinstance(item, Department):
        lines.append(_("Kind: {kind}").format(kind=department_kind_label(item.kind)))
    lines.append(_("Archived: hidden from pickers.") if item.archived else _("In use."))
    return "\n".join(lines)


async def show_list(message: Message, session: AsyncSession, user: User, catalog: str, page=0):
    items = await _items(session, user, catalog)
    text = _("<b>{title}</b>: {count}. 🗄 marks archived items.").format(
        title=catalog_title(catalog), count=len(items)
    )
    await message.answer(text, reply_markup=catalog_keyboard(catalog, items, page))


async def open_admin(message: Message, state: FSMContext, user: User) -> None:
    require_role(user, Role.ADMIN)
    await state.clear()
    await message.answer(
        _("<b>Admin</b>: what would you like to manage?"), reply_markup=admin_home_keyboard()
    )


@handlers.callback_query(CatalogCb.filter(F.action == CatalogAction.HOME))
async def admin_home(query: CallbackQuery, state: FSMContext, user: User) -> None:
    require_role(user, Role.ADMIN)
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("<b>Admin</b>: what would you like to manage?"), reply_markup=admin_home_keyboard()
        )


@handlers.callback_query(CatalogCb.filter(F.action == CatalogAction.LIST))
async def list_catalog(
    query: CallbackQuery,
    callback_data: CatalogCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    items = await _items(session, user, callback_data.catalog)
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("<b>{title}</b>: {count}. 🗄 marks archived items.").format(
                title=catalog_title(callback_data.catalog), count=len(items)
            ),
            reply_markup=catalog_keyboard(callback_data.catalog, items, callback_data.page),
        )


@handlers.callback_query(CatalogCb.filter(F.action == CatalogAction.OPEN))
async def open_item(
    query: CallbackQuery, callback_data: CatalogCb, session: AsyncSession, user: User
) -> None:
    item = await _item(session, user, callback_data.catalog, callback_data.item_id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            item_text(item),
            reply_markup=item_keyboard(callback_data.catalog, item, callback_data.page),
        )


@handlers.callback_query(
    CatalogCb.filter(F.action.in_({CatalogAction.ARCHIVE, CatalogAction.RESTORE}))
)
async def archive_item(
    query: CallbackQuery, callback_data: CatalogCb, session: AsyncSession, user: User
) -> None:
    archived = callback_data.action is CatalogAction.ARCHIVE
    if callback_data.catalog == DEPARTMENTS:
        item = await service.set_department_archived(session, user, callback_data.item_id, archived)
    else:
        item = await service.set_reference_archived(session, user, callback_data.item_id, archived)
    await query.answer(_("Archived.") if archived else _("Restored."))
    if isinstance(query.message, Message):
        await query.message.edit_text(
            item_text(item),
            reply_markup=item_keyboard(callback_data.catalog, item, callback_data.page),
        )


# Adding


@handlers.callback_query(CatalogCb.filter(F.action == CatalogAction.ADD))
async def add_item(
    query: CallbackQuery,
    callback_data: CatalogCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    require_role(user, Role.ADMIN)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await state.set_data({"catalog": callback_data.catalog})
    await query.message.edit_reply_markup(reply_markup=None)
    form = DepartmentForm.name if callback_data.catalog == DEPARTMENTS else ReferenceForm.name
    await go(form, query.message, state, session, user)


@step(DepartmentForm.name, expects_text=True)
async def ask_department_name(message: Message, state: FSMContext, session, user) -> None:
    await message.answer(_("Name of the new department?"), reply_markup=nav_keyboard())


@handlers.message(DepartmentForm.name, F.text)
async def department_name_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await state.update_data(name=service.clean_name(message.text or ""))
    await go(DepartmentForm.kind, message, state, session, user)


@step(DepartmentForm.kind, expects_text=False, back=DepartmentForm.name)
async def ask_department_kind(message: Message, state: FSMContext, session, user) -> None:
    data = await state.get_data()
    await message.answer(
        _("What kind of department is “{name}”?").format(name=escape(data.get("name", ""))),
        reply_markup=step_keyboard(department_kinds(), back=True),
    )


@handlers.callback_query(DepartmentForm.kind, CatalogCb.filter(F.action == CatalogAction.KIND))
async def department_kind_picked(
    query: CallbackQuery,
    callback_data: CatalogCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    data = await state.get_data()
    department = await service.add_department(
        session, user, data.get("name", ""), DepartmentKind(callback_data.value)
    )
    await state.clear()
    await query.answer(_("Saved."))
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("Department “{name}” added.").format(name=escape(department.name))
        )
        await show_list(query.message, session, user, DEPARTMENTS)


@step(ReferenceForm.name, expects_text=True)
async def ask_reference_name(message: Message, state: FSMContext, session, user) -> None:
    catalog = (await state.get_data()).get("catalog", "")
    done = InlineKeyboardButton(
        text=_("✅ Done"),
        callback_data=CatalogCb(action=CatalogAction.LIST, catalog=catalog).pack(),
    )
    await message.answer(
        _("{title}: send a name to add (one per message).").format(title=catalog_title(catalog)),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[done]]),
    )


@handlers.message(ReferenceForm.name, F.text)
async def reference_name_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    catalog = (await state.get_data()).get("catalog", "")
    item = await service.add_reference_item(
        session, user, ReferenceKind(catalog), message.text or ""
    )
    await message.answer(_("Added “{name}”.").format(name=escape(item.name)))
    await ask_reference_name(message, state, session, user)


# Renaming


@handlers.callback_query(CatalogCb.filter(F.action == CatalogAction.RENAME))
async def rename_item(
    query: CallbackQuery,
    callback_data: CatalogCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    item = await _item(session, user, callback_data.catalog, callback_data.item_id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await state.set_data(
        {"catalog": callback_data.catalog, "item_id": item.id, "page": callback_data.page}
    )
    await query.message.edit_reply_markup(reply_markup=None)
    form = DepartmentForm.rename if callback_data.catalog == DEPARTMENTS else ReferenceForm.rename
    await go(form, query.message, state, session, user)


async def ask_new_name(message: Message, state: FSMContext, session, user) -> None:
    data = await state.get_data()
    item = await _item(session, user, data.get("catalog", ""), data.get("item_id", 0))
    await message.answer(
        _("New name for “{name}”?").format(name=escape(item.name)), reply_markup=nav_keyboard()
    )


step(DepartmentForm.rename, expects_text=True)(ask_new_name)
step(ReferenceForm.rename, expects_text=True)(ask_new_name)


@handlers.message(DepartmentForm.rename, F.text)
@handlers.message(ReferenceForm.rename, F.text)
async def new_name_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    data = await state.get_data()
    catalog, item_id = data.get("catalog", ""), data.get("item_id", 0)
    if catalog == DEPARTMENTS:
        item = await service.rename_department(session, user, item_id, message.text or "")
    else:
        item = await service.rename_reference_item(session, user, item_id, message.text or "")
    await state.clear()
    await message.answer(
        _("Renamed.") + "\n\n" + item_text(item),
        reply_markup=item_keyboard(catalog, item, data.get("page", 0)),
    )


# Company-wide switches


@handlers.callback_query(InlineSwitchCb.filter())
async def inline_switch(
    query: CallbackQuery, callback_data: InlineSwitchCb, session: AsyncSession, user: User
) -> None:
    require_role(user, Role.ADMIN)
    if callback_data.value in ("on", "off"):
        enabled = await app_settings.set_inline_for_managers(
            session, user, callback_data.value == "on"
        )
        await query.answer(_("Saved."))
    else:
        enabled = await app_settings.inline_for_managers(session)
        await query.answer()
    status = _("on") if enabled else _("off")
    text = _(
        "<b>Inline search for managers</b>: {status}.\n\n"
        "Typing the bot's @username in any chat lets a user share one of their own clients "
        "(name, phone, e-mail). Heads and admins always have it."
    ).format(status=status)
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=inline_switch_keyboard(enabled))


# Deal stages: the chance a deal at each open stage is won


def stages_text() -> str:
    return _(
        "<b>Deal stages</b>: the chance a deal at each stage is won. The pipeline weights "
        "sums by it. Tap a stage to change it."
    )


@handlers.callback_query(StageCb.filter(F.stage == ""))
async def stages(query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User):
    require_role(user, Role.ADMIN)
    percents = await deals.probabilities(session)
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(stages_text(), reply_markup=stages_keyboard(percents))


@handlers.callback_query(StageCb.filter(F.stage != ""))
async def stage_picked(
    query: CallbackQuery,
    callback_data: StageCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    require_role(user, Role.ADMIN)
    stage = deals.stage_from(callback_data.stage)
    if not stage.is_open:
        raise InvalidInput()
    await query.answer()
    if isinstance(query.message, Message):
        await state.set_data({"stage": stage.value})
        await query.message.edit_reply_markup(reply_markup=None)
        await go(StageForm.probability, query.message, state, session, user)


@step(StageForm.probability, expects_text=True)
async def ask_probability(message: Message, state: FSMContext, session, user) -> None:
    stage = deals.stage_from((await state.get_data()).get("stage", ""))
    percent = (await deals.probabilities(session))[stage]
    await message.answer(
        _("<b>{stage}</b>: the chance now is {percent}%. Type a new one, from 0 to 100.").format(
            stage=stage_label(stage), percent=percent
        ),
        reply_markup=nav_keyboard(),
    )


@handlers.message(StageForm.probability, F.text)
async def probability_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    percent = deals.parse_probability(message.text or "")
    stage = deals.stage_from((await state.get_data()).get("stage", ""))
    percents = await deals.set_probability(session, user, stage, percent)
    await state.clear()
    await message.answer(
        _("Saved.") + "\n\n" + stages_text(), reply_markup=stages_keyboard(percents)
    )
