"""Handlers declared once per module, routers built fresh for every Dispatcher.

aiogram attaches a Router to one parent for good, so a module-level Router cannot serve a
second Dispatcher (a restart inside one process, or the next test). Modules declare handlers
on a `Handlers` list with the same decorators a Router has; `build()` makes a new Router.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import Router

Handler = Callable[..., Any]


class Handlers:
    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: list[tuple[str, Handler, tuple[Any, ...]]] = []

    def _on(self, observer: str, *filters: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._entries.append((observer, handler, filters))
            return handler

        return register

    def message(self, *filters: Any) -> Callable[[Handler], Handler]:
        return self._on("message", *filters)

    def callback_query(self, *filters: Any) -> Callable[[Handler], Handler]:
        return self._on("callback_query", *filters)

    def inline_query(self, *filters: Any) -> Callable[[Handler], Handler]:
        return self._on("inline_query", *filters)

    def my_chat_member(self, *filters: Any) -> Callable[[Handler], Handler]:
        return self._on("my_chat_member", *filters)

    def build(self) -> Router:
        router = Router(name=self.name)
        for observer, handler, filters in self._entries:
            router.observers[observer].register(handler, *filters)
        return router
