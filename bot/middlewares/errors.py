from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramForbiddenError
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.utils.i18n import gettext as _

from bot.flows import current_step
from bot.services.errors import DomainError, InvalidInput

log = logging.getLogger(__name__)


class ErrorsMiddleware(BaseMiddleware):
    """Answers failures in the user's language and keeps their conversation state as it was.

    It sits inside the locale middleware (aiogram's own errors observer runs outside it and would
    answer in the default language). A DomainError is an expected refusal with its own message;
    anything else is logged with the update id and the user is told their data is kept.
    """

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        except TelegramForbiddenError:
            # The user blocked the bot: nobody to tell. Not a failure of ours.
            log.info("update %s: the user has blocked the bot", _update_id(event))
        except DomainError as error:
            await _tell(event, _(error.message).format(**error.params))
            if isinstance(error, InvalidInput):
                await _ask_again(event, data)
        except Exception:
            log.exception("update %s failed", _update_id(event))
            await _tell(
                event,
                _(
                    "Sorry, something went wrong on our side. What you entered is kept: "
                    "try again, or send /cancel to start over."
                ),
            )
        return None


def _update_id(event: TelegramObject) -> int | str:
    return event.update_id if isinstance(event, Update) else "?"


async def _tell(update: TelegramObject, text: str) -> None:
    event = update.event if isinstance(update, Update) else update
    try:
        if isinstance(event, CallbackQuery):
            await event.answer(text[:200], show_alert=True)
        elif isinstance(event, Message):
            await event.answer(text)
    except Exception:  # the reply itself failed (blocked, network): the log has the cause
        log.warning("could not tell the user about a failure", exc_info=True)


async def _ask_again(update: TelegramObject, data: dict[str, Any]) -> None:
    message = update.event if isinstance(update, Update) else update
    state, session, user = data.get("state"), data.get("session"), data.get("user")
    if not isinstance(message, Message) or state is None or session is None or user is None:
        return
    step = current_step(await state.get_state())
    if step is not None:
        await session.rollback()
        await step.ask(message, state, session, user)
