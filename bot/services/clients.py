"""Clients and their contact persons: capture, duplicates, access, search, the card."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import catalog, parsing, quotas
from bot.services.access import require_role, visible_clients, visible_users
from bot.services.audit import AuditAction
from bot.services.errors import N_, DomainError, InvalidInput, NotFound
from db.models import (
    OPEN_STAGES,
    Attachment,
    Client,
    ClientKind,
    ClientStatus,
    ContactPerson,
    Deal,
    Interaction,
    ReferenceKind,
    Role,
    User,
)
from db.repositories import AuditRepository, ClientRepository, UserRepository
from db.types import utcnow

NAME_MAX = 200
ADDRESS_MAX = 500
NOTES_MAX = 2000
POSITION_MAX = 200
PAGE_SIZE = 8
RECENT = 6
STALE_DAYS = 30

TEXT_FIELDS = ("name", "phone", "email", "address", "inn", "notes")
REFERENCE_FIELDS = {
    "industry": ReferenceKind.INDUSTRY,
    "region": ReferenceKind.REGION,
    "lead_source": ReferenceKind.LEAD_SOURCE,
}


class ClientErased(DomainError):
    message = N_(
        "This client's personal data was erased on request: nothing new can be recorded about them."
    )


class DuplicateClient(DomainError):
    """The client already exists. `client` is set only when the user may see it."""

    message = N_("This client already exists.")

    def __init__(self, client: Client | None, owner_name: str) -> None:
        super().__init__()
        self.client = client
        self.owner_name = owner_name


def parse_text_field(field: str, raw: str) -> str:
    """A typed value for one of TEXT_FIELDS, validated and normalized (E.164, lower-case...)."""
    if field == "name":
        return parsing.clean_text(raw, limit=NAME_MAX)
    if field == "phone":
        return parsing.normalize_phone(raw)
    if field == "email":
        return parsing.normalize_email(raw)
    if field == "inn":
        return parsing.validate_inn(raw)
    if field == "address":
        return parsing.clean_text(raw, limit=ADDRESS_MAX)
    if field == "notes":
        return parsing.clean_text(raw, limit=NOTES_MAX)
    raise InvalidInput()


def parse_person_field(field: str, raw: str) -> str:
    """A contact person's detail as typed: position, phone, e-mail or Telegram username."""
    if field == "position":
        return parsing.clean_text(raw, limit=POSITION_MAX)
    if field == "phone":
        return parsing.normalize_phone(raw)
    if field == "email":
        return parsing.normalize_email(raw)
    if field == "username":
        username = raw.strip().removeprefix("https://t.me/").lstrip("@")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{4,31}", username):
            raise InvalidInput(
                N_("A Telegram username is 5–32 letters, digits or _, like @ivanov.")
            )
        return username
    raise InvalidInput()


async def check_duplicates(
    session: AsyncSession,
    actor: User,
    *,
    name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    inn: str | None = None,
    exclude_id: int | None = None,
) -> None:
    found = await ClientRepository(session).duplicates(
        name_key=parsing.normalize_name(name) if name else None,
        phone=phone,
        email=email,
        inn=inn,
        exclude_id=exclude_id,
    )
    if not found:
        return
    existing = found[0]
    visible = await ClientRepository(session).get(existing.id, visible_clients(actor))
    raise DuplicateClient(visible, existing.owner.full_name)


async def _reference(session: AsyncSession, field: str, item_id: int | None) -> int | None:
    if item_id is None:
        return None
    return (await catalog.pickable_item(session, REFERENCE_FIELDS[field], item_id)).id


def _apply(client: Client, field: str, value: Any) -> None:
    if field == "name":
        client.name = value
        client.name_key = parsing.normalize_name(value)
        client.search_text = parsing.search_key(value)
    elif field == "phone":
        client.phone = value
        client.phone_digits = parsing.phone_digits(value) if value else None
    elif field in REFERENCE_FIELDS:
        setattr(client, f"{field}_id", value)
    else:
        setattr(client, field, value)


async def create_client(session: AsyncSession, actor: User, values: dict[str, Any]) -> Client:
    """`values` as the creation flow collects them: name, kind, and optional fields already
    parsed with parse_text_field; reference fields as item ids."""
    name = parsing.clean_text(values.get("name"), limit=NAME_MAX)
    await check_duplicates(
        session,
        actor,
        name=name,
        phone=values.get("phone"),
        email=values.get("email"),
        inn=values.get("inn"),
    )
    client = Client(
        kind=ClientKind(values.get("kind", ClientKind.COMPANY)),
        status=ClientStatus.LEAD,
        owner_id=actor.id,
        created_by_id=actor.id,
    )
    _apply(client, "name", name)
    for field in ("phone", "email", "address", "inn", "notes"):
        if values.get(field):
            _apply(client, field, values[field])
    for field in REFERENCE_FIELDS:
        _apply(client, field, await _reference(session, field, values.get(f"{field}_id")))
    session.add(client)
    await session.commit()
    return await get_client(session, actor, client.id)


async def get_client(session: AsyncSession, actor: User, client_id: int) -> Client:
    client = await ClientRepository(session).get(client_id, visible_clients(actor))
    if client is None:
        raise NotFound()
    return client


async def get_writable_client(session: AsyncSession, actor: User, client_id: int) -> Client:
    """get_client for anything that records something about the client: an erased client keeps
    their figures, but nothing new (contacts, deals, complaints, tasks, edits, links)."""
    client = await get_client(session, actor, client_id)
    if client.erased_at is not None:
        raise ClientErased()
    return client


async def update_client(
    session: AsyncSession, actor: User, client_id: int, field: str, value: Any
) -> Client:
    """One field from the card's Edit: a parsed text value, a kind/status, or a reference id."""
    client = await get_writable_client(session, actor, client_id)
    if field in TEXT_FIELDS:
        if field in ("name", "phone", "email", "inn") and value:
            await check_duplicates(session, actor, exclude_id=client.id, **{field: value})
    elif field == "kind":
        value = ClientKind(value)
    elif field == "status":
        value = ClientStatus(value)
    elif field in REFERENCE_FIELDS:
        value = await _reference(session, field, value)
    else:
        raise InvalidInput()
    _apply(client, field, value)
    await session.commit()
    return await get_client(session, actor, client_id)


async def set_location(
    session: AsyncSession, actor: User, client_id: int, latitude: float, longitude: float
) -> Client:
    client = await get_writable_client(session, actor, client_id)
    client.latitude, client.longitude = latitude, longitude
    await session.commit()
    return client


async def reassign(session: AsyncSession, actor: User, client_id: int, owner_id: int) -> Client:
    require_role(actor, Role.HEAD, Role.ADMIN)
    client = await get_client(session, actor, client_id)
    owner = await UserRepository(session).get(owner_id, visible_users(actor))
    if owner is None or not owner.is_active:
        raise NotFound()
    if owner.id != client.owner_id:
        AuditRepository(session).record(
            actor.id,
            AuditAction.CLIENT_REASSIGNED,
            "client",
            client.id,
            old=client.owner_id,
            new=owner.id,
        )
        client.owner_id = owner.id
        # Open deals move with the client; won and lost ones stay credited to who closed them.
        await session.execute(
            update(Deal)
            .where(Deal.client_id == client.id, Deal.stage.in_(OPEN_STAGES))
            .values(owner_id=owner.id, version=Deal.version + 1)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return await get_client(session, actor, client_id)


async def possible_owners(session: AsyncSession, actor: User) -> Sequence[User]:
    require_role(actor, Role.HEAD, Role.ADMIN)
    members, _ = await UserRepository(session).page(visible_users(actor), 0, 100)
    return [m for m in members if m.is_active]


# Lists and search


def search_condition(query: str) -> ColumnElement[bool] | None:
    """What a typed query matches (see ClientRepository.matching); None when too short."""
    text = parsing.search_key(query)
    digits = parsing.phone_digits(query)
    if len(text) < 2 and len(digits) < 3:
        return None
    return ClientRepository.matching(text, digits, query.strip().lower())


async def search(
    session: AsyncSession, actor: User, query: str, page: int = 0
) -> tuple[Sequence[Client], int]:
    condition = search_condition(query)
    if condition is None:
        raise InvalidInput(N_("Send at least two letters or three digits to search."))
    await quotas.search_made(session, actor)  # limits against copying: QuotaExceeded
    return await ClientRepository(session).page(
        visible_clients(actor), [condition], max(page, 0) * PAGE_SIZE, PAGE_SIZE
    )


def stale_condition(now: datetime, days: int = STALE_DAYS) -> ColumnElement[bool]:
    """No contact for `days` or more, or never for a client older than that."""
    cutoff = now - timedelta(days=days)
    return (Client.last_contact_at.is_(None) & (Client.created_at < cutoff)) | (
        Client.last_contact_at < cutoff
    )


def is_stale(client: Client, now: datetime) -> bool:
    """No contact for STALE_DAYS or more (or never, for a client that old): the list's ⏳.
    The same rule as ClientFilter(stale=True), for a client already loaded."""
    return (client.last_contact_at or client.created_at) < now - timedelta(days=STALE_DAYS)


@dataclass(frozen=True)
class ClientFilter:
    status: ClientStatus | None = None
    industry_id: int | None = None
    region_id: int | None = None
    stale: bool = False

    def conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.status is not None:
            conditions.append(Client.status == self.status)
        if self.industry_id is not None:
            conditions.append(Client.industry_id == self.industry_id)
        if self.region_id is not None:
            conditions.append(Client.region_id == self.region_id)
        if self.stale:
            conditions.append(stale_condition(now))
        return conditions


async def list_clients(
    session: AsyncSession, actor: User, client_filter: ClientFilter, page: int = 0
) -> tuple[Sequence[Client], int]:
    """ "My clients": a manager's own; a head's department; an admin's everyone."""
    return await ClientRepository(session).page(
        visible_clients(actor),
        client_filter.conditions(utcnow()),
        max(page, 0) * PAGE_SIZE,
        PAGE_SIZE,
    )


async def recent(session: AsyncSession, actor: User) -> Sequence[Client]:
    """The actor's own clients, most recently contacted (then newest) first: the buttons of a
    "which client?" question, so no erased client (nothing can be recorded about them)."""
    mine = Client.owner_id == actor.id
    clients, _ = await ClientRepository(session).page(mine, [Client.erased_at.is_(None)], 0, RECENT)
    return clients


async def nearest(
    session: AsyncSession, actor: User, latitude: float, longitude: float, limit: int = 5
) -> Sequence[Client]:
    return await ClientRepository(session).nearest(
        Client.owner_id == actor.id, latitude, longitude, limit
    )


# Contact persons


async def add_contact_person(
    session: AsyncSession,
    actor: User,
    client_id: int,
    name: str,
    *,
    phone: str | None = None,
    position: str | None = None,
    email: str | None = None,
    telegram_username: str | None = None,
) -> ContactPerson:
    client = await get_writable_client(session, actor, client_id)
    person = ContactPerson(
        client_id=client.id,
        name=parsing.clean_text(name, limit=NAME_MAX),
        phone=parse_person_field("phone", phone) if phone else None,
        position=parse_person_field("position", position) if position else None,
        email=parse_person_field("email", email) if email else None,
        telegram_username=parse_person_field("username", telegram_username)
        if telegram_username
        else None,
    )
    session.add(person)
    await session.commit()
    return person


# The card and the history


@dataclass(frozen=True)
class ClientOverview:
    client: Client
    next_step: Interaction | None
    files: int


async def overview(session: AsyncSession, actor: User, client_id: int) -> ClientOverview:
    client = await get_client(session, actor, client_id)
    await quotas.card_viewed(session, actor, client.id)  # limits against copying: QuotaExceeded
    repo = ClientRepository(session)
    return ClientOverview(
        client, await repo.next_step(client.id, utcnow()), await repo.count_files(client.id)
    )


FILES_MAX = 10


async def files(session: AsyncSession, actor: User, client_id: int) -> Sequence[Attachment]:
    """The newest files attached to the client's contact log, to re-send from the card."""
    client = await get_client(session, actor, client_id)
    await quotas.card_viewed(session, actor, client.id)  # the card's, free once it was opened
    return await ClientRepository(session).files(client.id, FILES_MAX)


HISTORY_PAGE = 5


async def history(
    session: AsyncSession, actor: User, client_id: int, page: int = 0
) -> tuple[Client, Sequence[Interaction], int]:
    client = await get_client(session, actor, client_id)
    await quotas.card_viewed(session, actor, client.id)  # the card's, free once it was opened
    entries, total = await ClientRepository(session).history(
        client.id, max(page, 0) * HISTORY_PAGE, HISTORY_PAGE
    )
    return client, entries, total


async def history_span(
    session: AsyncSession,
    actor: User,
    client_id: int,
    page: int,
    entries: Sequence[Interaction],
    total: int,
) -> tuple[datetime | None, datetime | None]:
    """[from, before) of one page of the client's history: from this page's oldest contact to
    the previous page's oldest one (either bound open), so everything else in the timeline
    (tasks done, complaint steps, survey answers) shows on exactly one page."""
    last_page = (page + 1) * HISTORY_PAGE >= total
    since = None if last_page or not entries else entries[-1].occurred_at
    before = None
    if page > 0:
        _client, newer, _total = await history(session, actor, client_id, page - 1)
        before = newer[-1].occurred_at if newer else None
    return since, before
