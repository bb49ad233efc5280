"""Keyboards of tasks: the buttons under a reminder (also on a task's card), the ✅ Tasks list,
and the answer to a task just added."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.callbacks import ClientAction, ClientCb, TaskAction, TaskCb
from bot.keyboards.common import pager_row
from bot.services.tasks import PAGE_SIZE
from db.models import Task

BUTTON_TEXT_MAX = 40


def reminder_buttons(task: Task) -> list[list[dict[str, str]]]:
    """Done, snooze, reschedule, open the client: as plain dicts, so the outbox can keep them."""

    def button(text: str, action: TaskAction, value: str = "") -> dict[str, str]:
        return {
            "text": text,
            "callback_data": TaskCb(action=action, task_id=task.id, value=value).pack(),
        }

    rows = [
        [button(_("✅ Done"), TaskAction.DONE)],
        [
            button(_("+15 min"), TaskAction.SNOOZE, "15"),
            button(_("+1 h"), TaskAction.SNOOZE, "60"),
            button(_("Tomorrow 09:00"), TaskAction.SNOOZE, "tm"),
        ],
        [button(_("📅 Reschedule"), TaskAction.RESCHEDULE)],
    ]
    if task.client_id is not None:
        rows.append(
            [
                {
                    "text": _("👤 Open client"),
                    "callback_data": ClientCb(
                        action=ClientAction.OPEN, client_id=task.client_id
                    ).pack(),
                }
            ]
        )
    return rows


def _markup(rows: list[list[dict[str, str]]]) -> list[list[InlineKeyboardButton]]:
    return [[InlineKeyboardButton(**button) for button in row] for row in rows]


def new_task_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("➕ New task"), callback_data=TaskCb(action=TaskAction.NEW).pack()
    )


def task_card_keyboard(task: Task, page: int = 0) -> InlineKeyboardMarkup:
    back = InlineKeyboardButton(
        text=_("← Tasks"), callback_data=TaskCb(action=TaskAction.PAGE, page=page).pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[*_markup(reminder_buttons(task)), [back]])


def task_label(number: int, task: Task, overdue: bool) -> str:
    text = " ".join(task.text.split())
    label = f"{'⚠️ ' if overdue else ''}{number}. {text}"
    return label if len(label) <= BUTTON_TEXT_MAX else label[: BUTTON_TEXT_MAX - 1] + "…"


def tasks_keyboard(
    shown: Sequence[tuple[int, Task, bool]], page: int, total: int
) -> InlineKeyboardMarkup:
    """One button per task (number, task, overdue), the pages, then ➕ New task."""
    builder = InlineKeyboardBuilder()
    for number, task, overdue in shown:
        builder.button(
            text=task_label(number, task, overdue),
            callback_data=TaskCb(action=TaskAction.OPEN, task_id=task.id, page=page),
        )
    builder.adjust(1)
    pages = pager_row(
        page,
        total,
        lambda p: TaskCb(action=TaskAction.PAGE, page=p).pack(),
        page_size=PAGE_SIZE,
    )
    if pages:
        builder.row(*pages)
    builder.row(new_task_button())
    return builder.as_markup()


def added_keyboard(task: Task) -> InlineKeyboardMarkup:
    """Under "I'll remind you…": undo it at once; open the client it was linked to."""
    rows = [
        [
            InlineKeyboardButton(
                text=_("↩️ Undo"),
                callback_data=TaskCb(action=TaskAction.CANCEL, task_id=task.id).pack(),
            )
        ]
    ]
    if task.client_id is not None:
        rows.append(
            [
                InlineKeyboardButton(
                    text=_("👤 Open client"),
                    callback_data=ClientCb(
                        action=ClientAction.OPEN, client_id=task.client_id
                    ).pack(),
                )
            ]
        )
    return InlineKeyboardMarkup(inline_keyboard=rows)
