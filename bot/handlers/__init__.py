"""Routers in the order they must be tried: leaving a flow first, the catch-all last."""

from aiogram import Router

from bot.handlers import (
    admin,
    audit_log,
    client_card,
    client_chat,
    client_search,
    clients,
    common,
    complaints,
    contact_log,
    deals,
    exports,
    fallback,
    imports,
    inline,
    invites,
    kpi,
    main_menu,
    offboarding,
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
    kpi,
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
    imports,
    offboarding,
    exports,
    audit_log,
    client_search,
    inline,
    fallback,
)


def get_routers() -> list[Router]:
    """New routers on every call: each Dispatcher gets its own (see registry.Handlers)."""
    return [module.handlers.build() for module in MODULES]
