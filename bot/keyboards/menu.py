"""The main menu: a reply keyboard with only the sections the user's role may use."""

from __future__ import annotations

from aiogram.types import ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import ReplyKeyboardBuilder

from db.models import Role, User

LOG_CONTACT = __("📝 Log contact")
CLIENTS = __("👤 Clients")
TASKS = __("✅ Tasks")
DEALS = __("💼 Deals")
COMPLAINTS = __("⚠️ Complaints")
KPI = __("📊 KPI")
TEAM = __("👥 Team")
ADMIN = __("🛠 Admin")
SETTINGS = __("⚙️ Settings")
HELP = __("❓ Help")


def main_menu(user: User) -> ReplyKeyboardMarkup:
    builder = ReplyKeyboardBuilder()
    builder.button(text=str(LOG_CONTACT))
    builder.button(text=str(CLIENTS))
    builder.button(text=str(TASKS))
    builder.button(text=str(DEALS))
    builder.button(text=str(COMPLAINTS))
    builder.button(text=str(KPI))
    if user.role in (Role.HEAD, Role.ADMIN):
        builder.button(text=str(TEAM))
    if user.role is Role.ADMIN:
        builder.button(text=str(ADMIN))
    builder.button(text=str(SETTINGS))
    builder.button(text=str(HELP))
    builder.adjust(3, 3)  # the daily work first: log, clients, tasks, deals
    return builder.as_markup(resize_keyboard=True, input_field_placeholder=_("Choose a section"))
