"""Search results and "My clients" with its filters. Buttons carry ids only (PickCb, ListCb,
SearchCb); the handlers re-check everything through the services."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import ListCb, PickCb, SearchCb
from bot.keyboards.clients import client_button_text
from bot.keyboards.common import nav_row, pager_row
from bot.services.clients import STALE_DAYS
from bot.texts import client_status_label
from db.models import Client, ClientStatus, ReferenceItem

STALE_MARK = "⏳"
PICKER_PAGE = 16  # reference items per page of the industry / region picker (two columns)

# ListCb.industry / ListCb.region: 0 is "any", an id filters, and a negative value means the
# picker for that field is open; it keeps the current choice as -(id + 1) so Back restores it.


def is_picking(value: int) -> bool:
    return value < 0


def open_picker(current: int) -> int:
    return -current - 1


def chosen(value: int) -> int:
    """The id a field filters by (0: any), whether or not its picker is open."""
    return -value - 1 if value < 0 else value


def _copy(data: ListCb, **changes: object) -> str:
    return data.model_copy(update=changes).pack()


def _client_buttons(
    builder: InlineKeyboardBuilder, clients: Sequence[Client], stale: Collection[int] = ()
) -> None:
    for client in clients:
        mark = f"{STALE_MARK} " if client.id in stale else ""
        builder.button(
            text=(mark + client_button_text(client))[:64],
            callback_data=PickCb(client_id=client.id),
        )
    builder.adjust(1)


def search_results_keyboard(
    clients: Sequence[Client], total: int, page: int
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    _client_buttons(builder, clients)
    builder.row(*pager_row(page, total, lambda p: SearchCb(page=p).pack()))
    builder.row(*nav_row())
    return builder.as_markup()


def status_filter_label(status: str) -> str:
    return client_status_label(ClientStatus(status)) if status else _("All")


def list_keyboard(
    clients: Sequence[Client],
    total: int,
    data: ListCb,
    *,
    stale: Collection[int],
    industry: ReferenceItem | None,
    region: ReferenceItem | None,
) -> InlineKeyboardMarkup:
    """One page of clients (⏳ = stale), ◀ ▶, then the filters; `data` is the current view."""
    builder = InlineKeyboardBuilder()
    _client_buttons(builder, clients, stale)
    builder.row(*pager_row(data.page, total, lambda p: _copy(data, page=p)))

    def button(text: str, **changes: object) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, callback_data=_copy(data, page=0, **changes))

    statuses = ["", *(status.value for status in ClientStatus)]
    status_buttons = [
        button(("✓ " if data.status == value else "") + status_filter_label(value), status=value)
        for value in statuses
    ]
    builder.row(*status_buttons[:2])
    builder.row(*status_buttons[2:])
    builder.row(
        button(
            "🏭 " + (industry.name if industry else _("Industry")),
            industry=open_picker(data.industry),
        ),
        button("🗺 " + (region.name if region else _("Region")), region=open_picker(data.region)),
    )
    stale_label = _("{mark} No contact {days}+ days").format(mark=STALE_MARK, days=STALE_DAYS)
    builder.row(button(("✓ " if data.stale else "") + stale_label, stale=not data.stale))
    return builder.as_markup()


def reference_picker(
    items: Sequence[ReferenceItem], data: ListCb, field: str, any_label: str
) -> InlineKeyboardMarkup:
    """Items of one reference list to filter by; `data.<field>` is negative (picker open) and
    `data.page` is the picker's page. Picking returns to the list's first page."""
    current = chosen(getattr(data, field))
    builder = InlineKeyboardBuilder()
    page_items = items[data.page * PICKER_PAGE : (data.page + 1) * PICKER_PAGE]
    for item in page_items:
        builder.button(
            text=("✓ " if item.id == current else "") + item.name,
            callback_data=_copy(data, page=0, **{field: item.id}),
        )
    builder.adjust(2)
    make: Callable[[int], str] = lambda p: _copy(data, page=p)  # noqa: E731
    builder.row(*pager_row(data.page, len(items), make, page_size=PICKER_PAGE))
    builder.row(
        InlineKeyboardButton(
            text=("✓ " if current == 0 else "") + any_label,
            callback_data=_copy(data, page=0, **{field: 0}),
        )
    )
    builder.row(
        InlineKeyboardButton(
            text=_("← Back"), callback_data=_copy(data, page=0, **{field: current})
        )
    )
    return builder.as_markup()
