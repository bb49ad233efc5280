"""Clients: the Clients screen, creating a client (also from a shared phone contact), editing
fields from the card, contact persons and reassignment."""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.flows import go, step
from bot.handlers.client_card import edit_card, send_card, start_flow_for_client
from bot.handlers.common import leave_question, show_menu
from bot.handlers.registry import Handlers
from bot.keyboards.callbacks import (
    ClientAction,
    ClientCb,
    ClientsMenuAction,
    ClientsMenuCb,
    FormAction,
    FormCb,
    PickCb,
)
from bot.keyboards.clients import (
    client_picker,
    edit_fields_keyboard,
    field_label,
    kind_choices,
    status_choices,
)
from bot.keyboards.common import nav_keyboard, skip_keyboard, step_keyboard
from bot.services import catalog, clients
from bot.services.clients import REFERENCE_FIELDS, DuplicateClient
from bot.services.errors import N_
from bot.states import ClientEdit, ClientForm, ContactPersonForm
from bot.texts import client_kind_label
from db.models import ClientKind, User

handlers = Handlers("clients")

# The new-client flow: after the kind, these optional steps in order (each with Skip).
OPTIONAL_STEPS = (
    ("phone", ClientForm.phone),
    ("email", ClientForm.email),
    ("inn", ClientForm.inn),
    ("address", ClientForm.address),
    ("industry", ClientForm.industry),
    ("region", ClientForm.region),
    ("lead_source", ClientForm.lead_source),
    ("notes", ClientForm.notes),
)
STEP_FIELD = {state.state: field for field, state in OPTIONAL_STEPS}
TEXT_PROMPTS = {
    "phone": N_("Phone number? For example +7 912 345-67-89."),
    "email": N_("E-mail?"),
    "inn": N_("INN (10 or 12 digits)?"),
    "address": N_("Address?"),
    "notes": N_("Notes: anything the team should know?"),
}


# The Clients screen


async def clients_screen(message: Message, state: FSMContext) -> None:
    await state.clear()
    builder = InlineKeyboardBuilder()
    for text, action in (
        (_("➕ New client"), ClientsMenuAction.NEW),
        (_("🔎 Search"), ClientsMenuAction.SEARCH),
        (_("📋 My clients"), ClientsMenuAction.LIST),
    ):
        builder.button(text=text, callback_data=ClientsMenuCb(action=action))
    builder.adjust(1)
    await message.answer(
        _("<b>Clients</b>. Tip: share a phone contact with me to add it as a client."),
        reply_markup=builder.as_markup(),
    )


@handlers.callback_query(ClientsMenuCb.filter(F.action == ClientsMenuAction.NEW))
async def new_client(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await state.set_data({"client": {}})
        await go(ClientForm.name, query.message, state, session, user)


# Creating a client: name → kind → optional fields → review


async def _draft(state: FSMContext) -> dict[str, Any]:
    return dict((await state.get_data()).get("client", {}))


async def _save_draft(state: FSMContext, draft: dict[str, Any]) -> None:
    await state.update_data(client=draft)


async def _next_step(
    current: str | None, message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    """After an answer: back to the review when editing, else the next step still empty."""
    data = await state.get_data()
    draft = data.get("client", {})
    if data.get("editing"):
        await go(ClientForm.review, message, state, session, user)
        return
    fields = [field for field, _state in OPTIONAL_STEPS]
    start = fields.index(current) + 1 if current in fields else 0
    for field, target in OPTIONAL_STEPS[start:]:
        if draft.get(field) is None and draft.get(f"{field}_id") is None:
            if field in REFERENCE_FIELDS and not await catalog.pickable_items(
                session, REFERENCE_FIELDS[field]
            ):
                continue  # the admin keeps no such list yet: nothing to pick
            await go(target, message, state, session, user)
            return
    await go(ClientForm.review, message, state, session, user)


async def _report_duplicate(
    error: DuplicateClient, message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    await state.clear()
    if error.client is not None:
        await message.answer(_("This client is already in the base:"))
        await send_card(message, session, user, error.client.id)
    else:
        await show_menu(
            message,
            user,
            _(
                "This client is already in the base and {owner} handles it. "
                "Please coordinate with them instead of adding a copy."
            ).format(owner=escape(error.owner_name)),
        )


@step(ClientForm.name, expects_text=True)
async def ask_name(message: Message, state: FSMContext, session, user) -> None:
    await message.answer(_("Client's name? A company or a person."), reply_markup=nav_keyboard())


@handlers.message(ClientForm.name, F.text)
async def name_typed(message: Message, state: FSMContext, session: AsyncSession, user: User):
    name = clients.parse_text_field("name", message.text or "")
    try:
        await clients.check_duplicates(session, user, name=name)
    except DuplicateClient as error:
        await _report_duplicate(error, message, state, session, user)
        return
    draft = await _draft(state)
    draft["name"] = name
    await _save_draft(state, draft)
    if (await state.get_data()).get("editing"):
        await go(ClientForm.review, message, state, session, user)
    else:
        await go(ClientForm.kind, message, state, session, user)


@step(ClientForm.kind, expects_text=False, back=ClientForm.name)
async def ask_kind(message: Message, state: FSMContext, session, user) -> None:
    draft = await _draft(state)
    await message.answer(
        _("“{name}”: a company or a person?").format(name=escape(draft.get("name", ""))),
        reply_markup=step_keyboard(kind_choices(), back=True),
    )


@handlers.callback_query(ClientForm.kind, FormCb.filter(F.action == FormAction.CHOOSE))
async def kind_chosen(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    draft = await _draft(state)
    draft["kind"] = ClientKind(callback_data.value).value
    await _save_draft(state, draft)
    await query.answer()
    if message := await leave_question(query):
        await _next_step(None, message, state, session, user)


async def ask_text_field(message: Message, state: FSMContext, session, user) -> None:
    field = STEP_FIELD[await state.get_state() or ""]
    await message.answer(_(TEXT_PROMPTS[field]), reply_markup=skip_keyboard())


async def ask_reference_field(message: Message, state: FSMContext, session, user) -> None:
    field = STEP_FIELD[await state.get_state() or ""]
    items = await catalog.pickable_items(session, REFERENCE_FIELDS[field])
    choices = [(i.name, FormCb(action=FormAction.CHOOSE, value=str(i.id)).pack()) for i in items]
    choices.append((_("Skip ➡️"), FormCb(action=FormAction.SKIP).pack()))
    await message.answer(
        _("{field}?").format(field=field_label(field)),
        reply_markup=step_keyboard(choices, back=True),
    )


for _field, _state in OPTIONAL_STEPS:
    ask = ask_reference_field if _field in REFERENCE_FIELDS else ask_text_field
    step(_state, expects_text=_field not in REFERENCE_FIELDS, back=ClientForm.kind)(ask)


@handlers.message(ClientForm.phone, F.text)
@handlers.message(ClientForm.email, F.text)
@handlers.message(ClientForm.inn, F.text)
@handlers.message(ClientForm.address, F.text)
@handlers.message(ClientForm.notes, F.text)
async def text_field_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    field = STEP_FIELD[await state.get_state() or ""]
    value = clients.parse_text_field(field, message.text or "")
    if field in ("phone", "email", "inn"):
        try:
            await clients.check_duplicates(session, user, **{field: value})
        except DuplicateClient as error:
            await _report_duplicate(error, message, state, session, user)
            return
    draft = await _draft(state)
    draft[field] = value
    await _save_draft(state, draft)
    await _next_step(field, message, state, session, user)


@handlers.callback_query(
    StateFilter(ClientForm.industry, ClientForm.region, ClientForm.lead_source),
    FormCb.filter(F.action == FormAction.CHOOSE),
)
async def reference_chosen(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    field = STEP_FIELD[await state.get_state() or ""]
    item = await catalog.pickable_item(session, REFERENCE_FIELDS[field], int(callback_data.value))
    draft = await _draft(state)
    draft[f"{field}_id"] = item.id
    draft[field] = item.name
    await _save_draft(state, draft)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(f"{field_label(field)}: {escape(item.name)}")
        await _next_step(field, query.message, state, session, user)


@handlers.callback_query(
    StateFilter(*(target for _field, target in OPTIONAL_STEPS)),
    FormCb.filter(F.action == FormAction.SKIP),
)
async def skip_step(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    field = STEP_FIELD.get(await state.get_state() or "")
    if field is None:
        await query.answer(_("This button is no longer active."))
        return
    await query.answer()
    if message := await leave_question(query):
        await _next_step(field, message, state, session, user)


def review_text(draft: dict[str, Any]) -> str:
    lines = [_("<b>New client</b>"), f"{field_label('name')}: {escape(draft.get('name', ''))}"]
    kind = draft.get("kind")
    if kind:
        lines.append(f"{field_label('kind')}: {client_kind_label(ClientKind(kind))}")
    for field, _state in OPTIONAL_STEPS:
        if draft.get(field):
            lines.append(f"{field_label(field)}: {escape(str(draft[field]))}")
    return "\n".join(lines)


@step(ClientForm.review, expects_text=False)
async def ask_review(message: Message, state: FSMContext, session, user) -> None:
    await state.update_data(editing=False)
    choices = [
        (_("💾 Save"), FormCb(action=FormAction.SAVE).pack()),
        (_("✏️ Edit"), FormCb(action=FormAction.EDIT).pack()),
    ]
    await message.answer(
        review_text(await _draft(state)), reply_markup=step_keyboard(choices), protect_content=True
    )


@handlers.callback_query(ClientForm.review, FormCb.filter(F.action == FormAction.SAVE))
async def save_client(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    draft = await _draft(state)
    if not isinstance(query.message, Message):
        return
    try:
        client = await clients.create_client(session, user, draft)
    except DuplicateClient as error:
        await query.answer()
        await _report_duplicate(error, query.message, state, session, user)
        return
    pending = (await state.get_data()).get("after_save")
    await state.clear()
    await query.answer(_("Saved."))
    await query.message.edit_reply_markup(reply_markup=None)
    await show_menu(query.message, user, _("Client saved ✅"))
    await send_card(query.message, session, user, client.id)
    if pending:
        await query.message.answer(pending)


@handlers.callback_query(ClientForm.review, FormCb.filter(F.action == FormAction.EDIT))
async def pick_field_to_edit(query: CallbackQuery) -> None:
    await query.answer()
    fields = ["name", "kind", *[field for field, _state in OPTIONAL_STEPS]]
    choices = [
        (field_label(field), FormCb(action=FormAction.FIELD, value=field).pack())
        for field in fields
    ]
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=step_keyboard(choices, columns=3))


@handlers.callback_query(ClientForm.review, FormCb.filter(F.action == FormAction.FIELD))
async def edit_draft_field(
    query: CallbackQuery,
    callback_data: FormCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    targets = {"name": ClientForm.name, "kind": ClientForm.kind, **dict(OPTIONAL_STEPS)}
    target = targets.get(callback_data.value)
    await query.answer()
    if target is None or not isinstance(query.message, Message):
        return
    await state.update_data(editing=True)
    await query.message.edit_reply_markup(reply_markup=None)
    await go(target, query.message, state, session, user)


# A phone contact shared from the address book


@handlers.message(StateFilter(None), F.contact)
async def contact_shared(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    contact = message.contact
    if contact is None:
        return
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    await state.set_data({"contact": {"name": name, "phone": contact.phone_number}})
    await go(ContactPersonForm.client, message, state, session, user)


@step(ContactPersonForm.client, expects_text=True)
async def ask_contact_target(message: Message, state: FSMContext, session, user) -> None:
    contact = (await state.get_data()).get("contact", {})
    new = InlineKeyboardButton(
        text=_("➕ New client “{name}”").format(name=contact.get("name", ""))[:64],
        callback_data=FormCb(action=FormAction.CHOOSE, value="new").pack(),
    )
    await message.answer(
        _(
            "{name}, {phone}: a new client, or a contact person of one of your clients? "
            "Pick a client below or type part of a name to find one."
        ).format(name=escape(contact.get("name", "")), phone=escape(contact.get("phone", ""))),
        reply_markup=client_picker(await clients.recent(session, user), extra=[new]),
    )


@handlers.callback_query(ContactPersonForm.client, FormCb.filter(F.action == FormAction.CHOOSE))
async def contact_as_new_client(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    contact = (await state.get_data()).get("contact", {})
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await query.message.edit_reply_markup(reply_markup=None)
    draft: dict[str, Any] = {"name": clients.parse_text_field("name", contact.get("name") or "?")}
    try:
        phone = clients.parse_text_field("phone", contact.get("phone", ""))
        await clients.check_duplicates(session, user, name=draft["name"], phone=phone)
        draft["phone"] = phone
    except DuplicateClient as error:
        await _report_duplicate(error, query.message, state, session, user)
        return
    except clients.InvalidInput:
        pass  # an odd number in the address book: the manager can type it later
    await state.set_data({"client": draft})
    await go(ClientForm.kind, query.message, state, session, user)


@handlers.message(ContactPersonForm.client, F.text)
async def contact_target_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    found, _total = await clients.search(session, user, message.text or "")
    if not found:
        await message.answer(_("No clients match that. Try another part of the name."))
        await ask_contact_target(message, state, session, user)
        return
    await message.answer(_("Pick the client:"), reply_markup=client_picker(found))


@handlers.callback_query(ContactPersonForm.client, PickCb.filter())
async def contact_target_picked(
    query: CallbackQuery,
    callback_data: PickCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    client = await clients.get_client(session, user, callback_data.client_id)
    person = dict((await state.get_data()).get("contact", {}))
    try:
        person["phone"] = clients.parse_person_field("phone", person.get("phone") or "")
    except clients.InvalidInput:
        person["phone"] = None  # an odd number in the address book: not worth a question
    await state.update_data(client_id=client.id, contact=person, shared=True)
    await query.answer()
    if message := await leave_question(query):
        await _next_person_step(None, message, state, session, user)


# Contact person steps: the name (when typed rather than shared), then optional details.
PERSON_STEPS = (
    ("position", ContactPersonForm.position),
    ("phone", ContactPersonForm.phone),
    ("email", ContactPersonForm.email),
    ("username", ContactPersonForm.username),
)
PERSON_STEP_FIELD = {state.state: field for field, state in PERSON_STEPS}
PERSON_PROMPTS = {
    "position": N_("Their position? For example: director, buyer, accountant."),
    "phone": N_("Their phone number?"),
    "email": N_("Their e-mail?"),
    "username": N_("Their Telegram username, like @ivanov?"),
}


async def _next_person_step(
    current: str | None, message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    """A shared contact needs only the position; a typed one goes through every detail."""
    data = await state.get_data()
    person = data.get("contact", {})
    fields = [field for field, _state in PERSON_STEPS]
    start = fields.index(current) + 1 if current in fields else 0
    if not data.get("shared") or current is None:
        for field, target in PERSON_STEPS[start:]:
            if person.get(field) is None:
                await go(target, message, state, session, user)
                return
    await _save_contact_person(message, state, session, user)


@step(ContactPersonForm.name, expects_text=True)
async def ask_person_name(message: Message, state: FSMContext, session, user) -> None:
    await message.answer(_("The contact person's name?"), reply_markup=nav_keyboard())


@handlers.message(ContactPersonForm.name, F.text)
async def person_name_typed(message: Message, state: FSMContext, session: AsyncSession, user: User):
    data = await state.get_data()
    person = dict(data.get("contact", {}))
    person["name"] = clients.parse_text_field("name", message.text or "")
    await state.update_data(contact=person)
    await _next_person_step(None, message, state, session, user)


async def ask_person_detail(message: Message, state: FSMContext, session, user) -> None:
    field = PERSON_STEP_FIELD[await state.get_state() or ""]
    await message.answer(_(PERSON_PROMPTS[field]), reply_markup=skip_keyboard())


for _field, _state in PERSON_STEPS:
    step(_state, expects_text=True, back=None)(ask_person_detail)


@handlers.message(StateFilter(*(target for _field, target in PERSON_STEPS)), F.text)
async def person_detail_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    field = PERSON_STEP_FIELD[await state.get_state() or ""]
    value = clients.parse_person_field(field, message.text or "")
    data = await state.get_data()
    person = dict(data.get("contact", {}))
    person[field] = value
    await state.update_data(contact=person)
    await _next_person_step(field, message, state, session, user)


@handlers.callback_query(
    StateFilter(*(target for _field, target in PERSON_STEPS)),
    FormCb.filter(F.action == FormAction.SKIP),
)
async def person_detail_skipped(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, user: User
) -> None:
    field = PERSON_STEP_FIELD[await state.get_state() or ""]
    await query.answer()
    if message := await leave_question(query):
        await _next_person_step(field, message, state, session, user)


async def _save_contact_person(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    data = await state.get_data()
    person = data.get("contact", {})
    await clients.add_contact_person(
        session,
        user,
        data["client_id"],
        person.get("name") or "?",
        phone=person.get("phone"),
        position=person.get("position"),
        email=person.get("email"),
        telegram_username=person.get("username"),
    )
    await state.clear()
    await message.answer(_("Contact person added ✅"))
    await send_card(message, session, user, data["client_id"])


# Editing an existing client from its card


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.EDIT))
async def edit_client(
    query: CallbackQuery, callback_data: ClientCb, session: AsyncSession, user: User
) -> None:
    client = await clients.get_writable_client(session, user, callback_data.client_id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=edit_fields_keyboard(client))


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.FIELD))
async def edit_field(
    query: CallbackQuery,
    callback_data: ClientCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    client = await clients.get_client(session, user, callback_data.client_id)
    field = callback_data.value
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if field in clients.TEXT_FIELDS:
        await state.set_data({"client_id": client.id, "field": field})
        await go(ClientEdit.value, query.message, state, session, user)
        return
    if field == "kind":
        choices = [
            (client_kind_label(kind), _set(client.id, f"kind.{kind.value}")) for kind in ClientKind
        ]
    elif field == "status":
        choices = status_choices(client.id)
    elif field in REFERENCE_FIELDS:
        items = await catalog.pickable_items(session, REFERENCE_FIELDS[field])
        choices = [(i.name, _set(client.id, f"{field}.{i.id}")) for i in items]
        choices.append((_("➖ None"), _set(client.id, f"{field}.0")))
    else:
        return
    back = (_("← Back"), ClientCb(action=ClientAction.OPEN, client_id=client.id).pack())
    builder = InlineKeyboardBuilder()
    for text, data in [*choices, back]:
        builder.button(text=text, callback_data=data)
    builder.adjust(2)
    await query.message.edit_reply_markup(reply_markup=builder.as_markup())


def _set(client_id: int, value: str) -> str:
    return ClientCb(action=ClientAction.SET, client_id=client_id, value=value).pack()


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.SET))
async def set_choice(
    query: CallbackQuery, callback_data: ClientCb, session: AsyncSession, user: User
) -> None:
    field, _sep, raw = callback_data.value.partition(".")
    value: Any = (int(raw) or None) if field in REFERENCE_FIELDS else raw
    await clients.update_client(session, user, callback_data.client_id, field, value)
    await query.answer(_("Saved."))
    if isinstance(query.message, Message):
        await edit_card(query.message, session, user, callback_data.client_id)


@step(ClientEdit.value, expects_text=True)
async def ask_new_value(message: Message, state: FSMContext, session, user) -> None:
    data = await state.get_data()
    client = await clients.get_client(session, user, data["client_id"])
    field = data["field"]
    current = getattr(client, field) or "—"
    await message.answer(
        _("{field} of “{name}” now: {value}\nSend the new value.").format(
            field=field_label(field), name=escape(client.name), value=escape(str(current))
        ),
        reply_markup=nav_keyboard(),
        protect_content=True,
    )


@handlers.message(ClientEdit.value, F.text)
async def new_value_typed(message: Message, state: FSMContext, session: AsyncSession, user: User):
    data = await state.get_data()
    value = clients.parse_text_field(data["field"], message.text or "")
    try:
        await clients.update_client(session, user, data["client_id"], data["field"], value)
    except DuplicateClient as error:
        await _report_duplicate(error, message, state, session, user)
        return
    await state.clear()
    await message.answer(_("Saved."))
    await send_card(message, session, user, data["client_id"])


# Contact persons and reassignment


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.CONTACTS))
async def show_contacts(
    query: CallbackQuery, callback_data: ClientCb, session: AsyncSession, user: User
) -> None:
    client = await clients.get_client(session, user, callback_data.client_id)
    await query.answer()
    lines = [_("<b>Contact persons: {name}</b>").format(name=escape(client.name))]
    for person in client.contacts:
        details = [person.position, person.phone, person.email]
        if person.telegram_username:
            details.append("@" + person.telegram_username)
        extra = ", ".join(escape(value) for value in details if value)
        lines.append(f"👤 {escape(person.name)}" + (f" — {extra}" if extra else ""))
    if not client.contacts:
        lines.append(_("None yet. Tip: share a phone contact with me to add one in two taps."))
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("➕ Add contact person"),
        callback_data=ClientCb(action=ClientAction.ADD_CONTACT, client_id=client.id),
    )
    builder.button(
        text=_("← Card"), callback_data=ClientCb(action=ClientAction.OPEN, client_id=client.id)
    )
    builder.adjust(1)
    if isinstance(query.message, Message):
        await query.message.edit_text("\n".join(lines)[:4096], reply_markup=builder.as_markup())


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.ADD_CONTACT))
async def add_contact(
    query: CallbackQuery,
    callback_data: ClientCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    await start_flow_for_client(
        query, callback_data.client_id, ContactPersonForm.name, state, session, user, contact={}
    )


# The client's place: from the manager, or learnt from the first visit


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.LOCATION))
async def ask_client_location(
    query: CallbackQuery,
    callback_data: ClientCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
) -> None:
    await start_flow_for_client(
        query, callback_data.client_id, ClientEdit.location, state, session, user
    )


@step(ClientEdit.location, expects_text=False)
async def ask_location(message: Message, state: FSMContext, session, user) -> None:
    keyboard = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("📍 I'm at the client now"), request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    await message.answer(
        _(
            "Send the client's location: tap the button when you are there, or pick a point "
            "with 📎 → Location. /cancel to leave it as it is."
        ),
        reply_markup=keyboard,
    )


@handlers.message(ClientEdit.location, F.location)
async def client_location_sent(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    if message.location is None:
        return
    client_id = (await state.get_data())["client_id"]
    await clients.set_location(
        session, user, client_id, message.location.latitude, message.location.longitude
    )
    await state.clear()
    await show_menu(
        message, user, _("Location saved: visits logged nearby will suggest this client.")
    )
    await send_card(message, session, user, client_id)


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.REASSIGN))
async def choose_owner(
    query: CallbackQuery, callback_data: ClientCb, session: AsyncSession, user: User
) -> None:
    client = await clients.get_client(session, user, callback_data.client_id)
    owners = await clients.possible_owners(session, user)
    await query.answer()
    builder = InlineKeyboardBuilder()
    for owner in owners:
        mark = "• " if owner.id == client.owner_id else ""
        builder.button(
            text=mark + owner.full_name,
            callback_data=ClientCb(
                action=ClientAction.SET_OWNER, client_id=client.id, value=str(owner.id)
            ),
        )
    builder.button(
        text=_("← Back"), callback_data=ClientCb(action=ClientAction.OPEN, client_id=client.id)
    )
    builder.adjust(1)
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=builder.as_markup())


@handlers.callback_query(ClientCb.filter(F.action == ClientAction.SET_OWNER))
async def set_owner(
    query: CallbackQuery, callback_data: ClientCb, session: AsyncSession, user: User
) -> None:
    owner_id = int(callback_data.value) if callback_data.value.isdigit() else 0
    await clients.reassign(session, user, callback_data.client_id, owner_id)
    await query.answer(_("Reassigned."))
    if isinstance(query.message, Message):
        await edit_card(query.message, session, user, callback_data.client_id)
