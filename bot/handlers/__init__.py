"""Routers in the order they must be tried: leaving a flow first, the catch-all last."""

from aiogram import Router

from bot.handlers import (
    admin,
    client_card,
    client_search,
    clients,
    common,
    contact_log,
    fallback,
    inline,
    invites,
    main_menu,
    reachability,
    reminders,
    settings,
    start,
    tasks,
    team,
)

MODULES = (
    common,
    main_menu,
    reachability,
    start,
    settings,
    team,
    invites,
    admin,
    clients,
    client_card,
    contact_log,
    reminders,
    tasks,
    client_search,
    inline,
    fallback,
)


def get_routers() -> list[Router]:
    """New routers on every call: each Dispatcher gets its own (see registry.Handlers)."""
    return [module.handlers.build() for module in MODULES]
