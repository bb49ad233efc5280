"""Typed callback data. Only ids and short codes go here (64 bytes at most), never names;
handlers re-check access for every id through the services."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from db.models import Role


class NavAction(StrEnum):
    CANCEL = "x"
    BACK = "b"


class Nav(CallbackData, prefix="nav"):
    action: NavAction


class SettingsAction(StrEnum):
    MENU = "m"
    LANGUAGE = "l"
    SET_LANGUAGE = "sl"
    TIMEZONE = "t"
    SET_TIMEZONE = "st"


class SettingsCb(CallbackData, prefix="set"):
    action: SettingsAction
    value: str = ""


class InviteCb(CallbackData, prefix="inv"):
    """One step's choice: a role value, a department id or a number of days."""

    value: str


class TeamAction(StrEnum):
    PAGE = "p"
    OPEN = "o"
    DEACTIVATE = "d"
    REACTIVATE = "r"
    ROLES = "rs"
    SET_ROLE = "sr"
    INVITE = "i"


class TeamCb(CallbackData, prefix="team"):
    action: TeamAction
    user_id: int = 0
    page: int = 0
    role: Role | None = None


class CatalogAction(StrEnum):
    HOME = "h"
    LIST = "l"
    OPEN = "o"
    ADD = "a"
    RENAME = "r"
    ARCHIVE = "ar"
    RESTORE = "rs"
    KIND = "k"


class CatalogCb(CallbackData, prefix="cat"):
    """`catalog` is "department" or a ReferenceKind value."""

    action: CatalogAction
    catalog: str = ""
    item_id: int = 0
    page: int = 0
    value: str = ""
