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


class ClientForm(StatesGroup):
    """New client: name, kind, then optional fields (each with Skip), then a summary."""

    name = State()
    kind = State()
    phone = State()
    email = State()
    inn = State()
    address = State()
    industry = State()
    region = State()
    lead_source = State()
    notes = State()
    review = State()
    edit_field = State()  # a field re-typed from the summary's Edit


class ClientEdit(StatesGroup):
    """Editing one field of an existing client from its card."""

    value = State()
    location = State()


class ContactPersonForm(StatesGroup):
    client = State()  # pick the client a shared contact belongs to
    name = State()
    position = State()
    phone = State()
    email = State()
    username = State()


class ClientSearch(StatesGroup):
    query = State()


class ContactLog(StatesGroup):
    client = State()
    kind = State()
    summary = State()
    review = State()
    outcome = State()
    next_step = State()
    due = State()


class TaskForm(StatesGroup):
    text = State()
    due = State()
    reschedule = State()


class DealForm(StatesGroup):
    """New deal: client, product line, title, amount, close date, summary, then Save."""

    client = State()
    product_line = State()
    title = State()
    amount = State()
    close = State()
    summary = State()
    review = State()


class DealEdit(StatesGroup):
    value = State()  # the field being changed is in the FSM data
    won_amount = State()
    lost_reason = State()
    lost_comment = State()


class PlanForm(StatesGroup):
    revenue = State()
    deals = State()
    interactions = State()
    growth = State()


class StageForm(StatesGroup):
    probability = State()


class ComplaintForm(StatesGroup):
    """New complaint: client, category, severity, product line, description (text or voice,
    files attached), then Save."""

    client = State()
    category = State()
    severity = State()
    product_line = State()
    description = State()
    review = State()


class ComplaintStep(StatesGroup):
    """Text asked by an action on an existing complaint (its id and version in FSM data)."""

    comment = State()
    resolution = State()
    reassign_reason = State()
    reject_reason = State()
    reopen_reason = State()


class ClientSurvey(StatesGroup):
    comment = State()  # the survey id is in the FSM data


class KpiForm(StatesGroup):
    dates = State()  # a custom range for the KPI screen kept in the data as "screen"


class ImportForm(StatesGroup):
    """Admins: send a CSV/XLSX file, then the preview (the file's id, hash and column
    mapping in FSM data) until ✅ Import or Cancel."""

    file = State()
    preview = State()
