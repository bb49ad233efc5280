"""Routers in the order they must be tried: leaving a flow first, the catch-all last."""

from aiogram import Router

from bot.handlers import (
    admin,
    client_card,
    client_chat,
    client_search,
    clients,
    common,
    complaints,
    contact_log,
    deals,
    fallback,
    inline,
    invites,
    main_menu,
    pipeline,
    plans,
    reachability,
    reminders,
    settings,
    start,
    surveys,
    tasks,
    team,
)

MODULES = (
    client_chat,  # clients first: they never reach a staff screen
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
    surveys,
    contact_log,
    reminders,
    tasks,
    complaints,
    pipeline,
    plans,
    deals,
    client_search,
    inline,
    fallback,
)


def get_routers() -> list[Router]:
    """New routers on every call: each Dispatcher gets its own (see registry.Handlers)."""
    return [module.handlers.build() for module in MODULES]
