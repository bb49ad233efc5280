"""Routers in the order they must be tried: leaving a flow first, the catch-all last."""

from aiogram import Router

from bot.handlers import admin, common, fallback, invites, settings, start, team


def get_routers() -> list[Router]:
    return [
        common.router,
        start.router,
        settings.router,
        team.router,
        invites.router,
        admin.router,
        fallback.router,
    ]
