"""Finding clients: 🔎 Search by any part of a name, phone, INN or e-mail, and 📋 My clients
with filters. Scoping (own / department / all) is the services' job; a picked client's card
comes as a new message so the list stays to pick the next one."""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.flows import go, step
from bot.handlers.client_card import send_card
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import ClientsMenuAction, ClientsMenuCb, ListCb, PickCb, SearchCb
from bot.keyboards.client_lists import (
    PICKER_PAGE,
    STALE_MARK,
    chosen,
    is_picking,
    list_keyboard,
    reference_picker,
    search_results_keyboard,
    status_filter_label,
)
from bot.keyboards.common import PAGE_SIZE, nav_keyboard
from bot.services import catalog, clients
from bot.services.clients import STALE_DAYS, ClientFilter, is_stale
from bot.states import ClientSearch
from db.models import ClientStatus, ReferenceKind, Role, User
from db.types import utcnow

handlers = Handlers("client_search")

QUERY_SHOWN = 100  # characters of the query echoed back


def _last_page(total: int, page_size: int = PAGE_SIZE) -> int:
    return max((total - 1) // page_size, 0)


# Search


@handlers.callback_query(ClientsMenuCb.filter(F.action == ClientsMenuAction.SEARCH))
async def start_search(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await state.clear()
        await go(ClientSearch.query, query.message, state, session, user)


@step(ClientSearch.query, expects_text=True)
async def ask_query(message: Message, state: FSMContext, session, user) -> None:
    await message.answer(
        _("🔎 Send part of a name, phone, INN or e-mail."), reply_markup=nav_keyboard()
    )


async def search_view(
    session: AsyncSession, user: User, text: str, page: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    """The results page (the last one if `page` is past it), or None when nothing matches."""
    page = max(page, 0)
    found, total = await clients.search(session, user, text, page)
    if not found and total:
        page = _last_page(total)
        found, total = await clients.search(session, user, text, page)
    if not found:
        return None
    title = _("🔎 “{query}”: {count} found.").format(query=escape(text[:QUERY_SHOWN]), count=total)
    hint = _("Tap a client to open the card, or send another search.")
    return f"{title}\n{hint}", search_results_keyboard(found, total, page)


@handlers.message(ClientSearch.query, F.text)
async def query_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    text = message.text or ""
    view = await search_view(session, user, text, 0)  # too short → InvalidInput, asked again
    if view is None:
        await message.answer(
            _("Nothing found for “{query}”.").format(query=escape(text[:QUERY_SHOWN]))
        )
        await ask_query(message, state, session, user)
        return
    sent = await message.answer(view[0], reply_markup=view[1])
    # Still in the search step: another text is another search; ◀ ▶ page this message's query.
    await state.update_data(search_query=text, search_message_id=sent.message_id)


@handlers.callback_query(ClientSearch.query, SearchCb.filter())
async def search_page(
    query: CallbackQuery,
    callback_data: SearchCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    data = await state.get_data()
    message = query.message
    text = data.get("search_query")
    if not text or not isinstance(message, Message):
        await query.answer(_("This button is no longer active."))
        return
    if message.message_id != data.get("search_message_id"):
        await query.answer(_("This button is no longer active."))
        return
    view = await search_view(session, user, text, callback_data.page)
    await query.answer()
    if view is None:
        await message.edit_text(
            _("Nothing found for “{query}”.").format(query=escape(text[:QUERY_SHOWN]))
        )
        return
    await message.edit_text(view[0], reply_markup=view[1])


@handlers.callback_query(PickCb.filter())
async def open_picked(
    query: CallbackQuery, callback_data: PickCb, session: AsyncSession, user: User
) -> None:
    """A client tapped in search results or My clients (flows that pick a client for something
    else handle PickCb in their own step first)."""
    await clients.get_client(session, user, callback_data.client_id)  # not visible → refused
    await query.answer()
    if isinstance(query.message, Message):
        await send_card(query.message, session, user, callback_data.client_id)


# My clients


def _list_title(user: User) -> str:
    if user.role is Role.ADMIN:
        return _("All clients")
    if user.role is Role.HEAD and user.department_id is not None:
        return _("Department clients")
    return _("My clients")


async def _picker_view(
    session: AsyncSession, data: ListCb, field: str
) -> tuple[str, InlineKeyboardMarkup]:
    if field == "industry":
        kind, question = ReferenceKind.INDUSTRY, _("Filter by industry:")
    else:
        kind, question = ReferenceKind.REGION, _("Filter by region:")
    items = await catalog.pickable_items(session, kind)
    page = min(max(data.page, 0), _last_page(len(items), PICKER_PAGE))
    data = data.model_copy(update={"page": page})
    if not items:
        question = _("The admin has not set up this list yet.")
    return question, reference_picker(items, data, field, _("Any"))


async def list_view(
    session: AsyncSession, user: User, data: ListCb
) -> tuple[str, InlineKeyboardMarkup]:
    if is_picking(data.industry):
        return await _picker_view(session, data, "industry")
    if is_picking(data.region):
        return await _picker_view(session, data, "region")
    # Callback data is not trusted: unknown statuses and ids that are not (or no longer)
    # pickable are dropped, so the text never names what the filter does not apply.
    status = data.status if data.status in {s.value for s in ClientStatus} else ""
    industries = {i.id: i for i in await catalog.pickable_items(session, ReferenceKind.INDUSTRY)}
    regions = {i.id: i for i in await catalog.pickable_items(session, ReferenceKind.REGION)}
    industry, region = industries.get(chosen(data.industry)), regions.get(chosen(data.region))
    client_filter = ClientFilter(
        status=ClientStatus(status) if status else None,
        industry_id=industry.id if industry else None,
        region_id=region.id if region else None,
        stale=data.stale,
    )
    page = max(data.page, 0)
    found, total = await clients.list_clients(session, user, client_filter, page)
    if not found and total:
        page = _last_page(total)
        found, total = await clients.list_clients(session, user, client_filter, page)
    data = ListCb(
        page=page,
        status=status,
        industry=industry.id if industry else 0,
        region=region.id if region else 0,
        stale=data.stale,
    )
    filters = [
        status_filter_label(status) if status else "",
        escape(industry.name) if industry else "",
        escape(region.name) if region else "",
        _("no contact {days}+ days").format(days=STALE_DAYS) if data.stale else "",
    ]
    shown = " · ".join(f for f in filters if f) or _("none")
    lines = [
        _("<b>{title}</b>: {count}").format(title=_list_title(user), count=total),
        _("Filters: {filters}").format(filters=shown),
    ]
    now = utcnow()
    stale = {client.id for client in found if is_stale(client, now)}
    if not total:
        lines.append(_("No clients match these filters."))
    elif stale:
        lines.append(
            _("{mark} no contact for {days}+ days").format(mark=STALE_MARK, days=STALE_DAYS)
        )
    keyboard = list_keyboard(found, total, data, stale=stale, industry=industry, region=region)
    return "\n".join(lines), keyboard


@handlers.callback_query(ClientsMenuCb.filter(F.action == ClientsMenuAction.LIST))
async def my_clients(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    text, keyboard = await list_view(session, user, ListCb())
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=keyboard)


@handlers.callback_query(ListCb.filter())
async def list_page(
    query: CallbackQuery, callback_data: ListCb, session: AsyncSession, user: User
) -> None:
    text, keyboard = await list_view(session, user, callback_data)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=keyboard)
