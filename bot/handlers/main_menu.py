"""The main menu's buttons, tried right after /cancel and before any flow: a tap on a menu
button in the middle of a question opens that section instead of being taken as the answer."""

from aiogram import F

from bot.handlers import (
    admin,
    clients,
    common,
    complaints,
    contact_log,
    kpi,
    pipeline,
    settings,
    tasks,
    team,
)
from bot.handlers.registry import Handlers
from bot.keyboards import menu

handlers = Handlers("main_menu")

handlers.message(F.text == menu.ADMIN)(admin.open_admin)
handlers.message(F.text == menu.CLIENTS)(clients.clients_screen)
handlers.message(F.text == menu.COMPLAINTS)(complaints.complaints_screen)
handlers.message(F.text == menu.DEALS)(pipeline.deals_screen)
handlers.message(F.text == menu.HELP)(common.help_command)
handlers.message(F.text == menu.KPI)(kpi.kpi_screen)
handlers.message(F.text == menu.LOG_CONTACT)(contact_log.start_from_menu)
handlers.message(F.text == menu.SETTINGS)(settings.open_settings)
handlers.message(F.text == menu.TASKS)(tasks.tasks_screen)
handlers.message(F.text == menu.TEAM)(team.open_team)
