"""Conversation steps: each FSM state knows its question, what input it takes, and which step
Back returns to. Handlers move between steps with `go()`; the fallback handler re-asks the
current step after unexpected input, so a step never has to repeat its own question code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User

Ask = Callable[[Message, FSMContext, AsyncSession, User], Awaitable[None]]

TEXT_MAX = 1000  # longest free text a step accepts unless it says otherwise


@dataclass(frozen=True)
class Step:
    ask: Ask
    expects_text: bool
    back: State | None


STEPS: dict[str, Step] = {}


def step(state: State, *, expects_text: bool, back: State | None = None) -> Callable[[Ask], Ask]:
    def register(ask: Ask) -> Ask:
        STEPS[state.state] = Step(ask, expects_text, back)  # type: ignore[index]
        return ask

    return register


async def go(
    target: State, message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await state.set_state(target)
    await STEPS[target.state].ask(message, state, session, user)  # type: ignore[index]


def current_step(state_name: str | None) -> Step | None:
    return STEPS.get(state_name) if state_name else None
