"""Every conversation step, in one place. Steps are registered with their question in
bot/flows.py so any step can be asked again (after bad input, Back, or a restart)."""

from aiogram.fsm.state import State, StatesGroup


class InviteForm(StatesGroup):
    role = State()
    department = State()
    ttl = State()


class DepartmentForm(StatesGroup):
    name = State()
    kind = State()
    rename = State()


class ReferenceForm(StatesGroup):
    name = State()
    rename = State()


class SettingsForm(StatesGroup):
    timezone = State()
