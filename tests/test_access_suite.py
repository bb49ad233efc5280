"""Forged ids, end to end through the fake Bot API: every callback of the bot is pressed with
callback data pointing at objects outside the presser's scope (another manager's client,
deal, complaint, task, survey link; another department's pipeline, plans, figures and people;
admin-only screens), by a manager, a head, a service person, the service head, a manager whose
access is off, a stranger and a linked client. Every refusal is a plain "not found" / "no
access", the same answer an id that does not exist gets (a forged id does not even learn that
the object exists); nothing the bot sends, files included, names the object; no table changes
and no conversation starts. Screens without ids are pressed too, and show nothing out of the
presser's scope. The admin's run is the control: the same forged data opens the objects for
the admin (or for the one person it belongs to, like a task), so it is well-formed. Typed
search, the search steps of the flows, inline queries, reminders typed as a sentence and
commands carrying codes obey the same rules.

The table of cases is checked against bot/keyboards/callbacks.py: a new CallbackData class or
action without a case (or a reason in NO_ID) fails test_every_callback_has_a_case; new members
of the actions of clients, deals, complaints and KPI views get a case by themselves.

The company (inserted directly, ids in separate ranges so an id of one kind never names
another): North Sales (head, managers A1, A2 and A0 whose access is off), South Sales (head,
managers B1, B2), Service (head, one person). Each manager has a client with a contact person,
a contact logged, a deal, a complaint (B2's was logged before there was a service department,
so it is in nobody's queue), a task, a survey link, a linked client chat with a survey, and a
monthly plan; each sales department has a plan. Every piece carries a marker like
SECRET-CLIENT-B1, looked for in everything the bot sends."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram.filters.callback_data import CallbackData
from sqlalchemy import String, cast, delete, func, null, select

from bot.config import Settings
from bot.keyboards import callbacks
from bot.keyboards.callbacks import (
    AuditLogCb,
    AuditLogView,
    CatalogAction,
    CatalogCb,
    ClientAction,
    ClientCb,
    ClientChatCb,
    ClientsMenuAction,
    ClientsMenuCb,
    ComplaintAction,
    ComplaintCb,
    ConsentCb,
    DealAction,
    DealCb,
    EraseCb,
    ExportCb,
    FormAction,
    FormCb,
    ImportAction,
    ImportCb,
    InlineSwitchCb,
    InviteCb,
    KpiCb,
    KpiView,
    ListCb,
    Nav,
    OffboardAction,
    OffboardCb,
    PickCb,
    PipelineAction,
    PipelineCb,
    PlanAction,
    PlanCb,
    SearchCb,
    SettingsAction,
    SettingsCb,
    StageCb,
    SurveyCb,
    SurveyLinkAction,
    SurveyLinkCb,
    TaskAction,
    TaskCb,
    TeamAction,
    TeamCb,
)
from bot.services import money, parsing, plans
from bot.services.complaints import View
from db.models import (
    Base,
    Client,
    ClientChat,
    ClientKind,
    ClientLink,
    Complaint,
    ComplaintSeverity,
    ComplaintStatus,
    ContactPerson,
    ConversationState,
    Deal,
    DealStage,
    Department,
    DepartmentKind,
    Interaction,
    InteractionKind,
    Invite,
    Plan,
    PlanSubject,
    Role,
    Survey,
    SurveyKind,
    SurveyStatus,
    SurveyTrigger,
    Task,
    User,
)
from db.types import utcnow
from tests.conftest import ADMIN_ID, Db
from tests.fake_telegram import FakeTelegram, FakeUser, Reply, SentMessage

# What a refusal may say, and nothing else.
NOT_FOUND = "Not found: it may have been deleted or archived."
NO_ACCESS = "You don't have access to this."
STALE = "This button is no longer active."
REFUSALS = {
    NOT_FOUND,
    NO_ACCESS,
    STALE,
    "No access.",  # unregistered or turned off: the callback's answer ...
    "Hello! This is FieldCRM, your company's client base in Telegram.\n\n"  # ... and a message
    "Access is by invitation only: ask your head of department or an administrator for an "
    "invite link and open it on this phone.",
    "Your access to FieldCRM has been turned off. Contact your head or an administrator.",
    # A client's chat never reaches a staff screen:
    "Thank you! This question is already closed.",
    "Thank you for your message! This chat is only for short questions from FieldCRM; for "
    "anything else please contact your manager. /stop — no more questions.",
    # Staff opening or agreeing to a client's personal link:
    "This is a client's personal link. You are staff, so it can't be used by you.",
    "Sorry, this link no longer works. Please ask your manager for a new one.",
    "The daily digest is for heads of department and administrators. Your own figures are in "
    "📊 KPI.",
}
BROKEN = ("That doesn't look right. Please try again.", "Sorry, something went wrong")

# Ids, each kind in its own range.
NORTH, SOUTH, SERVICE = 101, 102, 103
ADMIN_USER, SERVICE_PERSON = 201, 209
STRANGER, OTHER_STRANGER = 4242, 4343
GHOST_ID = 999_999


# The company


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str
    role: Role
    department: int | None
    active: bool = True


PEOPLE: dict[int, Person] = {  # by Telegram id
    ADMIN_ID: Person(ADMIN_USER, "Olga Admin", Role.ADMIN, None),
    2100: Person(202, "Hanna North-Head", Role.HEAD, NORTH),
    2101: Person(203, "Agent SECRET-USER-A1", Role.MANAGER, NORTH),
    2102: Person(204, "Agent SECRET-USER-A2", Role.MANAGER, NORTH),
    2103: Person(210, "Agent SECRET-USER-A0", Role.MANAGER, NORTH, active=False),
    2200: Person(205, "Henry South-Head", Role.HEAD, SOUTH),
    2201: Person(206, "Agent SECRET-USER-B1", Role.MANAGER, SOUTH),
    2202: Person(207, "Agent SECRET-USER-B2", Role.MANAGER, SOUTH),
    2300: Person(208, "Sam Service-Head", Role.HEAD, SERVICE),
    2301: Person(SERVICE_PERSON, "Sid Service", Role.MANAGER, SERVICE),
}
HEAD_OF = {NORTH: 2100, SOUTH: 2200, SERVICE: 2300}
TREES = {"A1": "Alder", "A2": "Aspen", "B1": "Birch", "B2": "Beech", "A0": "Acacia", "GHOST": "Yew"}
DEPARTMENT_PLANS = {NORTH: 31_450_000_00, SOUTH: 43_210_000_00}


def rub(minor: int, *, compact: bool = False) -> str:
    return money.format_money(minor, "RUB", "en", compact=compact)


@dataclass(frozen=True)
class Target:
    """One manager's corner of the company: the objects forged callback data points at."""

    code: str
    telegram: int  # the manager's
    user: int
    department: int
    client: int
    person: int
    deal: int
    complaint: int
    task: int
    link: int
    link_token: str
    chat: int  # the Telegram id of the client's linked chat
    survey: int
    amount: int  # the deal's, minor units
    plan: int  # the manager's revenue plan, minor units
    complaint_queue: int | None = SERVICE

    @property
    def head(self) -> int:
        return HEAD_OF[self.department]

    @property
    def successor(self) -> int:
        """Who takes over the manager's work when they leave: their head."""
        head = HEAD_OF.get(self.department)
        return PEOPLE[head].user_id if head else GHOST_ID

    @property
    def client_name(self) -> str:
        """A word of its own, so a sentence naming the client names only this one."""
        return f"SECRET-CLIENT-{self.code} {TREES[self.code]}"

    @property
    def phone(self) -> str:
        return f"+7912555{self.client % 100:02d}{self.client % 100:02d}"

    @property
    def email(self) -> str:
        return f"secret-{self.code.lower()}@example.com"

    @property
    def inn(self) -> str:
        """A valid 10-digit INN (the last digit checks the others)."""
        digits = f"77{self.client:07d}"
        check = sum(int(d) * w for d, w in zip(digits, (2, 4, 10, 3, 5, 9, 4, 6, 8), strict=True))
        return digits + str(check % 11 % 10)

    def texts(self) -> dict[str, str]:
        """Every piece of this corner's data a screen could show, by what it is."""
        return {
            "user": PEOPLE[self.telegram].name,
            "client": f"SECRET-CLIENT-{self.code}",
            "phone": self.phone,
            "email": self.email,
            "inn": self.inn,
            "notes": f"SECRET-NOTE-{self.code}",
            "person": f"SECRET-PERSON-{self.code}",
            "visit": f"SECRET-VISIT-{self.code}",
            "deal": f"SECRET-DEAL-{self.code}",
            "amount": rub(self.amount),
            "amount, compact": rub(self.amount, compact=True),
            "complaint": f"SECRET-COMPLAINT-{self.code}",
            "task": f"SECRET-TASK-{self.code}",
            "plan": rub(self.plan),
            "plan, compact": rub(self.plan, compact=True),
            "department plan": rub(DEPARTMENT_PLANS.get(self.department, 1)),
            "department plan, compact": rub(DEPARTMENT_PLANS.get(self.department, 1), compact=True),
        }

    @property
    def secrets(self) -> list[str]:
        return list(self.texts().values())


def _target(code: str, telegram: int, index: int, amount: int, plan: int, **extra: Any) -> Target:
    person = PEOPLE[telegram]
    assert person.department is not None
    return Target(
        code=code,
        telegram=telegram,
        user=person.user_id,
        department=person.department,
        client=300 + index,
        person=350 + index,
        deal=400 + index,
        complaint=500 + index,
        task=600 + index,
        link=700 + index,
        link_token=f"c_secretlink{code}{'x' * 20}",
        chat=9000 + index,
        survey=800 + index,
        amount=amount * 100,
        plan=plan * 100,
        **extra,
    )


# Amounts chosen so that no department's or company's sum looks like one deal's amount.
TARGETS = {
    t.code: t
    for t in (
        _target("A1", 2101, 1, 1_110_000, 3_010_000),
        _target("A2", 2102, 2, 2_370_000, 3_620_000),
        _target("B1", 2201, 3, 5_480_000, 8_765_000),
        _target("B2", 2202, 4, 7_910_000, 9_876_000, complaint_queue=None),
        _target("A0", 2103, 5, 6_620_000, 4_040_000),
    )
}
GHOST = replace(
    TARGETS["B1"],
    code="GHOST",
    **{
        name: GHOST_ID
        for name in (
            *("user", "department", "client", "person", "deal", "complaint"),
            *("task", "link", "survey"),
        )
    },
    link_token="c_nosuchlink" + "x" * 20,
)


async def build_company(db: Db, now_month: str) -> None:
    now = utcnow()
    async with db.session_factory() as session:
        session.add_all(
            [
                Department(id=NORTH, name="North Sales", kind=DepartmentKind.SALES),
                Department(id=SOUTH, name="South Sales", kind=DepartmentKind.SALES),
                Department(id=SERVICE, name="Service", kind=DepartmentKind.SERVICE),
            ]
        )
        await session.flush()
        for telegram, person in PEOPLE.items():
            user = User(
                id=person.user_id,
                telegram_id=telegram,
                full_name=person.name,
                role=person.role,
                department_id=person.department,
                locale="en",
                timezone="Europe/Moscow",
                is_active=person.active,
                agenda_time=null(),  # nothing the background sweep could send meanwhile
            )
            if hasattr(user, "digest_time"):
                user.digest_time = null()
            session.add(user)
        await session.flush()
        for department, revenue in DEPARTMENT_PLANS.items():
            session.add(
                Plan(
                    month=now_month,
                    subject=PlanSubject.DEPARTMENT,
                    subject_id=department,
                    revenue_minor=revenue,
                    deals_won=10,
                    interactions=100,
                )
            )
        for t in TARGETS.values():
            _add_corner(session, t, now, now_month)
            await session.flush()
        await session.commit()


def _add_corner(session: Any, t: Target, now: Any, month: str) -> None:
    texts = t.texts()
    session.add_all(
        [
            Client(
                id=t.client,
                name=t.client_name,
                name_key=parsing.normalize_name(t.client_name),
                search_text=parsing.search_key(t.client_name),
                kind=ClientKind.COMPANY,
                phone=t.phone,
                phone_digits=parsing.phone_digits(t.phone),
                email=t.email,
                inn=t.inn,
                notes=texts["notes"],
                owner_id=t.user,
                created_by_id=t.user,
                last_contact_at=now - timedelta(days=1),
            ),
            ContactPerson(id=t.person, client_id=t.client, name=texts["person"]),
            Interaction(
                client_id=t.client,
                author_id=t.user,
                kind=InteractionKind.CALL,
                occurred_at=now - timedelta(days=1),
                summary=texts["visit"],
            ),
            Deal(
                id=t.deal,
                client_id=t.client,
                owner_id=t.user,
                created_by_id=t.user,
                title=texts["deal"],
                amount_minor=t.amount,
                currency="RUB",
                stage=DealStage.NEW,
            ),
            Complaint(
                id=t.complaint,
                client_id=t.client,
                severity=ComplaintSeverity.HIGH,
                description=texts["complaint"],
                status=ComplaintStatus.OPEN,
                reporter_id=t.user,
                department_id=t.complaint_queue,
                sla_due_at=now + timedelta(days=1),
                created_at=now,
            ),
            Task(
                id=t.task,
                owner_id=t.user,
                text=texts["task"],
                due_at=now + timedelta(days=2),
                client_id=t.client,
            ),
            ClientLink(id=t.link, token=t.link_token, client_id=t.client, created_by_id=t.user),
            Plan(
                month=month,
                subject=PlanSubject.USER,
                subject_id=t.user,
                revenue_minor=t.plan,
                deals_won=3,
                interactions=30,
            ),
        ]
    )
    chat = ClientChat(
        telegram_id=t.chat,
        client_id=t.client,
        name=f"Chat of {t.code}",
        locale="en",
        consented_at=now - timedelta(days=30),
    )
    # A1's client answered already (their chat has nothing waiting); the others were asked.
    answered = t.code == "A1"
    session.add(
        Survey(
            id=t.survey,
            chat=chat,
            touchpoint=f"manual:{t.client}:1",
            kind=SurveyKind.NPS,
            trigger=SurveyTrigger.MANUAL,
            status=SurveyStatus.ANSWERED if answered else SurveyStatus.SENT,
            client_id=t.client,
            owner_id=t.user,
            scheduled_at=now - timedelta(hours=1),
            sent_at=now - timedelta(hours=1),
            expires_at=now + timedelta(days=7),
            score=9 if answered else None,
            answered_at=now - timedelta(minutes=30) if answered else None,
        )
    )


# Who may do what: the relations an actor has to a target


OWNER = "the owner"
HEAD = "the owner's head"
ADMIN = "an admin"
ANY_HEAD = "any head"
STAFF = "any active staff"
CHAT = "the client's own chat"
NOT_STAFF = "not staff"
QUEUE = "the complaint's service department"

CLIENT_SCOPE = frozenset({OWNER, HEAD, ADMIN})
COMPLAINT_SCOPE = CLIENT_SCOPE | {QUEUE}
DEPARTMENT_SCOPE = frozenset({HEAD, ADMIN})
HEAD_SCREENS = frozenset({ANY_HEAD, ADMIN})
ADMIN_ONLY = frozenset({ADMIN})
STAFF_SCREENS = frozenset({STAFF})


def relations(telegram: int, t: Target) -> set[str]:
    person = PEOPLE.get(telegram)
    if person is None:
        return {NOT_STAFF} | ({CHAT} if telegram == t.chat else set())
    if not person.active:
        return set()
    found = {STAFF}
    if person.role is Role.ADMIN:
        found.add(ADMIN)
    if person.role is Role.HEAD:
        found.add(ANY_HEAD)
        if person.department == t.department:
            found.add(HEAD)
    if person.user_id == t.user:
        found.add(OWNER)
    if person.department is not None and person.department == t.complaint_queue:
        found.add(QUEUE)
    return found


def hidden(telegram: int, t: Target) -> list[str]:
    """What of `t` nothing may show `telegram`: all of it, or for the service department all
    but what a complaint card in their queue says (the client, their phone, the manager)."""
    found = relations(telegram, t)
    if found & (CLIENT_SCOPE | {CHAT}):
        return []
    if QUEUE in found:
        shown_on_card = {"client", "phone", "user", "complaint"}
        return [text for what, text in t.texts().items() if what not in shown_on_card]
    return t.secrets


def rightful(who: frozenset[str], t: Target) -> int:
    """Someone who may do it: the control that the forged data reaches the object."""
    for relation, telegram in (
        (ADMIN, ADMIN_ID),
        (OWNER, t.telegram),
        (HEAD, t.head),
        (ANY_HEAD, t.head),
        (STAFF, t.telegram),
        (CHAT, t.chat),
        (NOT_STAFF, OTHER_STRANGER),
    ):
        if relation in who:
            return telegram
    raise AssertionError(who)


# The cases

Setup = Callable[[FakeUser, SentMessage], Awaitable[Any]]


def pressing(data: CallbackData) -> Setup:
    async def setup(user: FakeUser, base: SentMessage) -> None:
        await user.press_forged(data.pack(), message=base)

    return setup


def sending(text: str) -> Setup:
    async def setup(user: FakeUser, base: SentMessage) -> None:
        await user.send(text)

    return setup


async def sharing_a_contact(user: FakeUser, base: SentMessage) -> None:
    await user.share_contact("+79990001122", "Pavel")


@dataclass(frozen=True)
class Case:
    name: str
    key: tuple[type, Enum | None]  # the CallbackData class and action it covers
    forge: Callable[[Target], str]  # callback data, or a message when `typed`
    who: frozenset[str]  # relations that allow it
    setup: Setup | None = None  # legit steps first (on the actor's own side): enter a flow
    reveals: str | None = None  # what the control must see (proves the leak check works)
    typed: bool = False


def client_value(action: ClientAction, t: Target) -> str:
    return {
        ClientAction.FIELD: "name",
        ClientAction.SET: "status.active",
        ClientAction.SET_OWNER: str(t.user),
    }.get(action, "")


def deal_value(action: DealAction) -> str:
    return {DealAction.SET_STAGE: DealStage.QUALIFIED.value, DealAction.FIELD: "title"}.get(
        action, ""
    )


CLIENT_REVEALS = {
    ClientAction.OPEN: "client",
    ClientAction.HISTORY: "visit",
    ClientAction.CONTACTS: "person",
    ClientAction.DEALS: "deal",
    ClientAction.FIELD: "client",
}

PICKERS: dict[str, Setup | None] = {
    "to open the card": None,
    "for a new deal": pressing(PipelineCb(action=PipelineAction.NEW)),
    "for a new complaint": pressing(ComplaintCb(action=ComplaintAction.NEW)),
    "for a contact log": sending("📝 Log contact"),
    "for a shared contact": sharing_a_contact,
}

CASES: list[Case] = [
    *(
        Case(
            f"ClientCb.{action.name}",
            (ClientCb, action),
            lambda t, a=action: ClientCb(
                action=a, client_id=t.client, value=client_value(a, t)
            ).pack(),
            DEPARTMENT_SCOPE
            if action in (ClientAction.REASSIGN, ClientAction.SET_OWNER)
            else CLIENT_SCOPE,
            reveals=CLIENT_REVEALS.get(action),
        )
        for action in ClientAction
    ),
    *(
        Case(
            f"PickCb {purpose}",
            (PickCb, None),
            lambda t: PickCb(client_id=t.client).pack(),
            CLIENT_SCOPE,
            setup=setup,
            reveals="client" if setup is None else None,
        )
        for purpose, setup in PICKERS.items()
    ),
    Case("ListCb", (ListCb, None), lambda t: ListCb().pack(), STAFF_SCREENS),
    *(
        Case(
            f"ClientsMenuCb.{action.name}",
            (ClientsMenuCb, action),
            lambda t, a=action: ClientsMenuCb(action=a).pack(),
            STAFF_SCREENS,
        )
        for action in ClientsMenuAction
    ),
    *(
        Case(
            f"DealCb.{action.name}",
            (DealCb, action),
            lambda t, a=action: DealCb(
                action=a, deal_id=t.deal, version=1, value=deal_value(a)
            ).pack(),
            CLIENT_SCOPE,
            reveals="deal" if action in (DealAction.OPEN, DealAction.HISTORY) else None,
        )
        for action in DealAction
    ),
    Case(
        "PipelineCb.NEW",
        (PipelineCb, PipelineAction.NEW),
        lambda t: PipelineCb(action=PipelineAction.NEW).pack(),
        STAFF_SCREENS,
    ),
    *(
        Case(
            f"PipelineCb.{action.name} of a manager",
            (PipelineCb, action),
            lambda t, a=action: PipelineCb(action=a, owner=t.user).pack(),
            CLIENT_SCOPE,
            reveals="user" if action is PipelineAction.HOME else None,
        )
        for action in PipelineAction
        if action is not PipelineAction.NEW
    ),
    *(
        Case(
            f"PipelineCb.{action.name} of a department",
            (PipelineCb, action),
            lambda t, a=action: PipelineCb(action=a, department=t.department).pack(),
            DEPARTMENT_SCOPE,
            reveals="department plan, compact" if action is PipelineAction.HOME else None,
        )
        for action in PipelineAction
        if action is not PipelineAction.NEW
    ),
    *(
        Case(
            f"PlanCb.{action.name}",
            (PlanCb, action),
            lambda t, a=action: PlanCb(
                action=a, value="10" if a is PlanAction.GROW_BY else ""
            ).pack(),
            HEAD_SCREENS,
        )
        for action in (PlanAction.HOME, PlanAction.COPY, PlanAction.GROW, PlanAction.GROW_BY)
    ),
    *(
        Case(
            f"PlanCb.{action.name} of a manager",
            (PlanCb, action),
            lambda t, a=action: PlanCb(action=a, subject_id=t.user).pack(),
            frozenset({HEAD}),  # a head sets their managers' plans
            reveals="plan" if action is PlanAction.OPEN else None,
        )
        for action in (PlanAction.OPEN, PlanAction.SET)
    ),
    *(
        Case(
            f"PlanCb.{action.name} of a department",
            (PlanCb, action),
            lambda t, a=action: PlanCb(action=a, subject_id=t.department).pack(),
            ADMIN_ONLY,  # admins set the departments' plans
            reveals="department plan" if action is PlanAction.OPEN else None,
        )
        for action in (PlanAction.OPEN, PlanAction.SET)
    ),
    Case(
        "ComplaintCb.LIST of the queue",
        (ComplaintCb, ComplaintAction.LIST),
        lambda t: ComplaintCb(action=ComplaintAction.LIST, value=View.QUEUE.value).pack(),
        HEAD_SCREENS,
    ),
    Case(
        "ComplaintCb.NEW",
        (ComplaintCb, ComplaintAction.NEW),
        lambda t: ComplaintCb(action=ComplaintAction.NEW).pack(),
        STAFF_SCREENS,
    ),
    *(
        Case(
            f"ComplaintCb.{action.name}{' ' + value if value else ''}",
            (ComplaintCb, action),
            lambda t, a=action, v=value: ComplaintCb(
                action=a, complaint_id=t.complaint, version=1, value=v
            ).pack(),
            COMPLAINT_SCOPE,
            reveals="complaint" if action is ComplaintAction.OPEN else None,
        )
        for action, value in [
            *(
                (a, "")
                for a in ComplaintAction
                if a not in (ComplaintAction.LIST, ComplaintAction.NEW)
            ),
            (ComplaintAction.ASSIGN, str(SERVICE_PERSON)),
            (ComplaintAction.SEVERITY, ComplaintSeverity.CRITICAL.value),
        ]
    ),
    *(
        Case(
            f"TaskCb.{action.name}",
            (TaskCb, action),
            lambda t, a=action: TaskCb(
                action=a, task_id=t.task, value="60" if a is TaskAction.SNOOZE else ""
            ).pack(),
            frozenset({OWNER}),  # a task is its owner's alone
            reveals="task" if action is TaskAction.OPEN else None,
        )
        # the order matters for the owner's control: a done task can't be opened
        for action in (
            TaskAction.OPEN,
            TaskAction.SNOOZE,
            TaskAction.RESCHEDULE,
            TaskAction.DONE,
            TaskAction.CANCEL,
        )
    ),
    *(
        Case(
            f"TaskCb.{action.name}",
            (TaskCb, action),
            lambda t, a=action: TaskCb(action=a).pack(),
            STAFF_SCREENS,
        )
        for action in (TaskAction.PAGE, TaskAction.NEW)
    ),
    *(
        Case(
            f"TeamCb.{action.name}",
            (TeamCb, action),
            lambda t, a=action: TeamCb(action=a).pack(),
            HEAD_SCREENS,
        )
        for action in (TeamAction.PAGE, TeamAction.INVITE)
    ),
    Case(
        "InviteCb",
        (InviteCb, None),
        lambda t: InviteCb(value=Role.MANAGER.value).pack(),
        HEAD_SCREENS,
        setup=pressing(TeamCb(action=TeamAction.INVITE)),
    ),
    *(
        Case(
            f"CatalogCb.{action.name}",
            (CatalogCb, action),
            lambda t, a=action: CatalogCb(action=a, catalog="department").pack(),
            ADMIN_ONLY,
        )
        for action in (CatalogAction.HOME, CatalogAction.LIST, CatalogAction.ADD)
    ),
    *(
        Case(
            f"CatalogCb.{action.name} of a department",
            (CatalogCb, action),
            lambda t, a=action: CatalogCb(
                action=a, catalog="department", item_id=t.department
            ).pack(),
            ADMIN_ONLY,
        )
        for action in (
            CatalogAction.OPEN,
            CatalogAction.RENAME,
            CatalogAction.ARCHIVE,
            CatalogAction.RESTORE,
        )
    ),
    *(
        Case(
            f"InlineSwitchCb {value!r}",
            (InlineSwitchCb, None),
            lambda t, v=value: InlineSwitchCb(value=v).pack(),
            ADMIN_ONLY,
        )
        for value in ("", "off")
    ),
    *(
        Case(
            f"StageCb {stage!r}",
            (StageCb, None),
            lambda t, s=stage: StageCb(stage=s).pack(),
            ADMIN_ONLY,
        )
        for stage in ("", DealStage.NEW.value)
    ),
    *(
        Case(
            f"SettingsCb.{action.name}",
            (SettingsCb, action),
            lambda t, a=action, v=value: SettingsCb(action=a, value=v).pack(),
            STAFF_SCREENS,
        )
        for action, value in (
            (SettingsAction.MENU, ""),
            (SettingsAction.LANGUAGE, ""),
            (SettingsAction.SET_LANGUAGE, "en"),
            (SettingsAction.AGENDA, ""),
            (SettingsAction.SET_AGENDA, "off"),
            (SettingsAction.TIMEZONE, ""),
        )
    ),
    *(
        Case(
            f"SettingsCb.{action.name}",
            (SettingsCb, action),
            lambda t, a=action, v=value: SettingsCb(action=a, value=v).pack(),
            HEAD_SCREENS,  # the daily digest is for heads and admins
        )
        for action, value in ((SettingsAction.DIGEST, ""), (SettingsAction.SET_DIGEST, "off"))
    ),
    *(
        Case(
            f"KpiCb.{view.name} of a manager",
            (KpiCb, view),
            lambda t, v=view: KpiCb(view=v, owner=t.user, dimension="pl").pack(),
            CLIENT_SCOPE,
            reveals="user" if view is KpiView.DASHBOARD else None,
        )
        for view in KpiView
    ),
    *(
        Case(
            f"KpiCb.{view.name} of a department",
            (KpiCb, view),
            lambda t, v=view: KpiCb(view=v, department=t.department, dimension="mg").pack(),
            DEPARTMENT_SCOPE,
        )
        for view in KpiView
    ),
    Case("ExportCb home", (ExportCb, None), lambda t: ExportCb().pack(), HEAD_SCREENS),
    Case(
        "ExportCb clients as CSV",  # a head's file holds their department's clients only
        (ExportCb, None),
        lambda t: ExportCb(kind="clients", period="tm", fmt="csv").pack(),
        HEAD_SCREENS,
        reveals="phone",  # the admin's file has every client: the leak check reads files too
    ),
    Case(
        "ExportCb audit log of a person",
        (ExportCb, None),
        lambda t: ExportCb(kind="audit", user=t.user).pack(),
        ADMIN_ONLY,
    ),
    *(
        Case(
            f"AuditLogCb.{view.name}",
            (AuditLogCb, view),
            lambda t, v=view: AuditLogCb(view=v, user=t.user).pack(),
            ADMIN_ONLY,
        )
        for view in AuditLogView
    ),
    Case(
        "ImportCb.START",
        (ImportCb, ImportAction.START),
        lambda t: ImportCb(action=ImportAction.START).pack(),
        ADMIN_ONLY,
    ),
    # Commands and menu texts
    *(
        Case(f"typed {text!r}", (str, None), lambda t, x=text: x, who, typed=True)
        for text, who in (
            ("/team", HEAD_SCREENS),
            ("👥 Team", HEAD_SCREENS),
            ("/invite", HEAD_SCREENS),
            ("🛠 Admin", ADMIN_ONLY),
            ("📊 KPI", STAFF_SCREENS),
            ("/digest", HEAD_SCREENS),
            ("/export", HEAD_SCREENS),
            ("/audit", ADMIN_ONLY),
        )
    ),
    Case(
        "typed /start with a client's survey link",
        (str, None),
        lambda t: f"/start {t.link_token}",
        frozenset({NOT_STAFF}),
        typed=True,
    ),
    # A client's side; last but the link and team cases: agreeing links a stranger for good.
    Case(
        "SurveyCb",
        (SurveyCb, None),
        lambda t: SurveyCb(survey_id=t.survey, score=9).pack(),
        frozenset({CHAT}),
    ),
    Case(
        "ConsentCb",
        (ConsentCb, None),
        lambda t: ConsentCb(token=t.link_token, agree=True).pack(),
        frozenset({NOT_STAFF}),  # whoever holds the (unguessable) token
    ),
    # Links last but team: a new link revokes the client's earlier ones.
    *(
        Case(
            f"SurveyLinkCb.{action.name}{' ' + label if label else ''}",
            (SurveyLinkCb, action),
            lambda t, a=action, v=value: SurveyLinkCb(
                action=a, client_id=t.client, value=v(t)
            ).pack(),
            CLIENT_SCOPE,
            reveals="person" if label == "whom for" else None,
        )
        for action, label, value in (
            (SurveyLinkAction.LINK, "whom for", lambda t: 0),
            (SurveyLinkAction.LINK, "for a person", lambda t: t.person),
            (SurveyLinkAction.REVOKE, "", lambda t: t.link),
            (SurveyLinkAction.ASK, "", lambda t: 0),
        )
    ),
    # Team, offboarding and erasure last: the admin's control changes people and erases.
    *(
        Case(
            f"TeamCb.{action.name}",
            (TeamCb, action),
            lambda t, a=action: TeamCb(
                action=a, user_id=t.user, role=Role.MANAGER if a is TeamAction.SET_ROLE else None
            ).pack(),
            ADMIN_ONLY if action is TeamAction.SET_ROLE else DEPARTMENT_SCOPE,
            reveals="user" if action is TeamAction.OPEN else None,
        )
        for action in (
            TeamAction.OPEN,
            TeamAction.ROLES,
            TeamAction.SET_ROLE,
            TeamAction.DEACTIVATE,
            TeamAction.REACTIVATE,
        )
    ),
    *(
        Case(
            f"OffboardCb.{action.name}",
            (OffboardCb, action),
            lambda t, a=action: OffboardCb(action=a, user_id=t.user, to=t.successor).pack(),
            DEPARTMENT_SCOPE,
        )
        for action in (OffboardAction.PICK, OffboardAction.CONFIRM, OffboardAction.DO)
    ),
    *(
        Case(
            f"EraseCb{' confirmed' if confirm else ''}",
            (EraseCb, None),
            lambda t, c=confirm: EraseCb(client_id=t.client, confirm=c).pack(),
            ADMIN_ONLY,
            reveals=None if confirm else "client",
        )
        for confirm in (False, True)
    ),
]

# Callbacks that carry no object id of their own, with the reason none is needed.
NO_ID: dict[tuple[type, Enum | None], str] = {
    (Nav, callbacks.NavAction.CANCEL): "leaves any flow; names nothing",
    (Nav, callbacks.NavAction.BACK): "the step before in the user's own flow",
    (FormCb, None): "an answer inside a flow: what it is about was access-checked into the "
    "FSM data and is re-checked on every use (PickCb cases enter those flows)",
    (SearchCb, None): "pages the query this chat typed, kept in its FSM data",
    (CatalogCb, CatalogAction.KIND): "a step of the admin's new-department flow (ADD is covered)",
    (SettingsCb, SettingsAction.SET_TIMEZONE): "a step of the user's own time zone flow",
    (ClientChatCb, None): "a client's own chat",
    **{
        (ImportCb, action): "a step of the admin's import, bound to the preview in the chat's "
        "FSM data by a token (START is covered)"
        for action in ImportAction
        if action is not ImportAction.START
    },
}


def discriminator(cls: type[CallbackData]) -> type[Enum] | None:
    """The enum a callback's handlers dispatch on (`action`, `view`...): its first required
    field typed by an Enum."""
    for info in cls.model_fields.values():
        kind = info.annotation
        if info.is_required() and isinstance(kind, type) and issubclass(kind, Enum):
            return kind
    return None


def callback_keys() -> set[tuple[type, Enum | None]]:
    """Every CallbackData class in bot/keyboards/callbacks.py, with each member of the enum it
    dispatches on (None for a class without one)."""
    keys: set[tuple[type, Enum | None]] = set()
    for value in vars(callbacks).values():
        if (
            isinstance(value, type)
            and issubclass(value, CallbackData)
            and value is not CallbackData
        ):
            enum = discriminator(value)
            keys |= {(value, member) for member in enum} if enum else {(value, None)}
    return keys


def test_every_callback_has_a_case() -> None:
    covered = {case.key for case in CASES}
    exempt = {key for key in callback_keys() if key in NO_ID or (key[0], None) in NO_ID}
    missing = callback_keys() - covered - exempt
    assert not missing, "callback data without a forged-id case (add one to CASES, or a " + (
        "reason to NO_ID): " + ", ".join(sorted(f"{cls.__name__}.{a}" for cls, a in missing))
    )
    assert not covered & exempt, "in both CASES and NO_ID"
    assert len({case.name for case in CASES}) == len(CASES), "case names must be unique"


# Pressing, and what the user saw


def shown(reply: Reply) -> list[str]:
    """Every text the user saw: the callback's answer, new messages and edits."""
    texts = []
    if reply.callback_answer and reply.callback_answer.get("text"):
        texts.append(str(reply.callback_answer["text"]))
    texts += [message.content for message in [*reply.messages, *reply.edits]]
    return texts


def leaked(reply: Reply, secrets: Iterable[str]) -> list[str]:
    """Secrets in anything the bot sent while handling the update, to any chat."""
    sent = "\n".join(
        json.dumps(call.params, ensure_ascii=False, default=str) for call in reply.calls
    )
    return [secret for secret in secrets if secret in sent]


def _fingerprint(table: Any) -> Any:
    """All of a table's rows as one text, built in the database: one statement for the whole
    snapshot instead of one query per table (hundreds of snapshots a test)."""
    columns = [func.coalesce(cast(column, String), "∅") for column in table.columns]
    row = columns[0]
    for column in columns[1:]:
        row = row.op("||")("|").op("||")(column)
    return select(func.aggregate_strings(row, "\n")).select_from(table).scalar_subquery()


SNAPSHOT_TABLES = [
    table for table in Base.metadata.sorted_tables if table.name != ConversationState.__tablename__
]
SNAPSHOT = select(*(_fingerprint(table).label(table.name) for table in SNAPSHOT_TABLES))


async def snapshot(db: Db) -> dict[str, Any]:
    """Every row of every table but the conversations' state."""
    async with db.session_factory() as session:
        row = (await session.execute(SNAPSHOT)).one()
    return dict(zip([table.name for table in SNAPSHOT_TABLES], row, strict=True))


def changed_tables(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [name for name in after if before.get(name) != after[name]]


@dataclass
class Walk:
    """One test's walk through the bot: who pressed what, what failed. People open their chat
    (and get a message to press buttons on) on first use."""

    fake: FakeTelegram
    db: Db
    bases: dict[int, SentMessage] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    pressed: Counter[str] = field(default_factory=Counter)  # refused, of them ghosts; allowed
    refused: str | None = None  # the last press, when it was refused (and had no setup)

    async def base(self, telegram: int) -> SentMessage:
        """The message a person presses forged buttons on (their settings, or a greeting)."""
        if telegram not in self.bases:
            person = PEOPLE.get(telegram)
            user = self.user(telegram)
            reply = await user.command("settings" if person and person.active else "start")
            self.bases[telegram] = reply.messages[-1]
        return self.bases[telegram]

    def user(self, telegram: int) -> FakeUser:
        person = PEOPLE.get(telegram)
        name = person.name.split()[0] if person else f"Someone {telegram}"
        return self.fake.user(telegram, name, language_code="en")

    async def act(self, telegram: int, case: Case, t: Target) -> Reply:
        base = await self.base(telegram)
        user = self.user(telegram)
        await self.forget_flows()
        if case.setup is not None:
            await case.setup(user, base)
        if case.typed:
            return await user.send(case.forge(t))
        reply = await user.press_forged(case.forge(t), message=base)
        if any(edit.message_id == base.message_id for edit in reply.edits):
            del self.bases[telegram]  # the next press gets a fresh one to edit
        return reply

    async def forget_flows(self) -> None:
        """Ends whatever conversation the last case left; a refused press must leave none."""
        async with self.db.session_factory() as session:
            flows = await session.scalar(
                select(func.count())
                .select_from(ConversationState)
                .where(ConversationState.state.is_not(None))
            )
            await session.execute(delete(ConversationState))
            await session.commit()
        if flows and self.refused:
            self.fail(f"{self.refused}: started a conversation though refused")
        self.refused = None

    def fail(self, what: str) -> None:
        self.failures.append(what)


async def check_refused(
    s: Walk, telegram: int, case: Case, t: Target, secrets: list[str], ghost: list[str] | None
) -> list[str]:
    """Presses the case as `telegram` against `t`, expecting a plain refusal; returns what the
    user saw (to compare with the ghost's). That it changed nothing is checked by the caller."""
    reply = await s.act(telegram, case, t)
    s.pressed.update(["refused", "ghost"] if t is GHOST else ["refused"])
    texts = shown(reply)
    where = f"{case.name} by {telegram} on {t.code}"
    s.refused = where if case.setup is None else None
    if not texts:
        s.fail(f"{where}: no answer at all")
    if odd := [text for text in texts if text not in REFUSALS]:
        s.fail(f"{where}: not a plain refusal: {odd}")
    if found := leaked(reply, secrets):
        s.fail(f"{where}: leaked {found}")
    if ghost is not None and texts != ghost:
        s.fail(f"{where}: answered {texts}, but {ghost} for an id that doesn't exist")
    return texts


async def check_allowed(
    s: Walk, telegram: int, case: Case, t: Target, banned: list[str], *, control: bool
) -> None:
    """Presses the case as someone who may: it is not refused, it shows nothing of `banned`
    and, for a control, it shows what the case says it reveals."""
    reply = await s.act(telegram, case, t)
    s.pressed["allowed"] += 1
    texts = shown(reply)
    where = f"{case.name} by {telegram} on {t.code}"
    if not case.typed and reply.callback_answer is None:
        s.fail(f"{where}: the callback was never answered")
    if refused := [text for text in texts if text in REFUSALS or text.startswith(BROKEN)]:
        s.fail(f"{where}: refused or broken though allowed: {refused}")
    if found := leaked(reply, banned):
        s.fail(f"{where}: shows what is outside the scope: {found}")
    if control and case.reveals and not leaked(reply, [t.texts()[case.reveals]]):
        s.fail(f"{where}: the control does not show the {case.reveals}: {texts}")


# Who presses, and whose objects they aim at


@dataclass(frozen=True)
class Actor:
    telegram: int
    targets: tuple[str, ...]  # codes of the corners they aim at


ACTORS = {
    "manager": Actor(2101, ("A2", "B1")),  # a colleague's corner and another department's
    "head": Actor(2100, ("B1", "B2")),  # another department's
    # A1's complaint is in their queue (its card is theirs to see, the rest of A1's corner is
    # not); B2's complaint is in no queue.
    "service person": Actor(2301, ("A1", "B2")),
    "service head": Actor(2300, ("A1", "B2")),
    "admin": Actor(ADMIN_ID, ("B1",)),  # sees all: the control that forged data is well-formed
    "turned-off manager": Actor(2103, ("A0", "B1")),  # not even their own any more
    "stranger": Actor(STRANGER, ("B1",)),
    "linked client": Actor(9001, ("B1",)),  # A1's client's chat
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No background sweep while a test runs (the tables must change only by the presses), and
    no flood or copying limits: this suite presses hundreds of buttons a minute on purpose
    (tests/test_quotas.py covers the limits)."""
    no_limits = {
        "flood_rate": 0,
        "card_views_per_hour": 0,
        "card_views_per_day": 0,
        "searches_per_hour": 0,
        "searches_per_day": 0,
    }
    return settings.model_copy(update={"sweep_seconds": 3600, **no_limits})


async def company_of(fake: FakeTelegram, db: Db, bot: Any) -> Walk:
    month = plans.month_of(bot.clock.now().astimezone(ZoneInfo("Europe/Moscow")).date())
    await build_company(db, month)
    return Walk(fake, db)


@pytest.mark.parametrize("who", list(ACTORS))
async def test_forged_ids_get_a_plain_not_found(who: str, fake, bot, db) -> None:
    """For each case: the targets out of the actor's reach (and a ghost id) are refused and
    change nothing; the ones in reach (screens without ids, the admin's) work and show nothing
    out of reach. The admin's run is the control: everything the others were refused is shown
    to the admin, or to whoever it belongs to."""
    s = await company_of(fake, db, bot)
    actor = ACTORS[who]
    banned = [secret for code in actor.targets for secret in hidden(actor.telegram, TARGETS[code])]
    before = await snapshot(db)
    for case in CASES:
        targets = [TARGETS[code] for code in actor.targets]
        refused = [t for t in targets if not case.who & relations(actor.telegram, t)]
        allowed = [t for t in targets if t not in refused]
        ghost = None
        if refused and case.forge(GHOST) != case.forge(refused[0]):
            ghost = await check_refused(s, actor.telegram, case, GHOST, banned, None)
        for t in refused:
            await check_refused(s, actor.telegram, case, t, banned, ghost)
        after = await snapshot(db)
        if changed := changed_tables(before, after):
            s.fail(f"{case.name} by {actor.telegram}, refused, changed {changed}")
        for t in allowed[:1] if case.forge(targets[0]) == case.forge(targets[-1]) else allowed:
            await check_allowed(s, actor.telegram, case, t, banned, control=who == "admin")
        if who == "admin":  # the control: the forged data reaches the object
            for t in refused:
                await check_allowed(s, rightful(case.who, t), case, t, [], control=True)
        if allowed or who == "admin":
            after = await snapshot(db)
        before = after
    print(f"{who}: {dict(s.pressed)}")  # shown with -s
    report = "\n".join(s.failures)
    assert not s.failures, f"{len(s.failures)} failures in {dict(s.pressed)}:\n{report}"


# Ids out of reach next to one's own: the object is the actor's, the other id is not


@dataclass(frozen=True)
class Mixed:
    name: str
    actor: int
    forge: Callable[[Target, Target], str]  # (the actor's own corner, someone else's)
    own: str
    other: str


MIXED = [
    Mixed(
        "a head reassigns their client to another department's manager",
        2100,
        lambda own, other: ClientCb(
            action=ClientAction.SET_OWNER, client_id=own.client, value=str(other.user)
        ).pack(),
        "A1",
        "B1",
    ),
    Mixed(
        "a head hands a leaver's work over to another department's manager",
        2100,
        lambda own, other: OffboardCb(
            action=OffboardAction.CONFIRM, user_id=own.user, to=other.user
        ).pack(),
        "A2",
        "B1",
    ),
    Mixed(
        "a head confirms handing a leaver's work over to another department's manager",
        2100,
        lambda own, other: OffboardCb(
            action=OffboardAction.DO, user_id=own.user, to=other.user
        ).pack(),
        "A2",
        "B1",
    ),
    Mixed(
        "a head opens their manager's figures within another department",
        2100,
        lambda own, other: KpiCb(
            view=KpiView.DASHBOARD, owner=own.user, department=other.department
        ).pack(),
        "A1",
        "B1",
    ),
    Mixed(
        "a manager revokes another client's link from their own client's card",
        2101,
        lambda own, other: SurveyLinkCb(
            action=SurveyLinkAction.REVOKE, client_id=own.client, value=other.link
        ).pack(),
        "A1",
        "B1",
    ),
    Mixed(
        "a manager makes their client's link for another client's contact person",
        2101,
        lambda own, other: SurveyLinkCb(
            action=SurveyLinkAction.LINK, client_id=own.client, value=other.person
        ).pack(),
        "A1",
        "B1",
    ),
    Mixed(
        "the service head assigns a complaint in their queue to a sales manager",
        2300,
        lambda own, other: ComplaintCb(
            action=ComplaintAction.ASSIGN,
            complaint_id=own.complaint,
            version=1,
            value=str(other.user),
        ).pack(),
        "A1",
        "A1",
    ),
]


async def test_an_own_object_does_not_carry_a_foreign_id(fake, bot, db) -> None:
    s = await company_of(fake, db, bot)
    for case in MIXED:
        own, other = TARGETS[case.own], TARGETS[case.other]
        before = await snapshot(db)
        base = await s.base(case.actor)
        reply = await s.user(case.actor).press_forged(case.forge(own, other), message=base)
        if shown(reply) != [NOT_FOUND]:
            s.fail(f"{case.name}: {shown(reply)}")
        if case.own != case.other and (found := leaked(reply, other.secrets)):
            s.fail(f"{case.name}: leaked {found}")
        if changed := changed_tables(before, await snapshot(db)):
            s.fail(f"{case.name}: changed {changed}")
    assert not s.failures, "\n".join(s.failures)


# Typing: search, the search steps of flows, inline mode, sentences and commands


SEARCHES: dict[str, Setup] = {
    "🔎 Search": pressing(ClientsMenuCb(action=ClientsMenuAction.SEARCH)),
    "a new deal's client": pressing(PipelineCb(action=PipelineAction.NEW)),
    "a new complaint's client": pressing(ComplaintCb(action=ComplaintAction.NEW)),
    "a contact log's client": sending("📝 Log contact"),
    "a shared contact's client": sharing_a_contact,
}
SEARCHERS = {"manager": 2101, "head": 2100, "service person": 2301, "admin": ADMIN_ID}


def picks(reply: Reply, t: Target) -> bool:
    """Whether anything the bot sent offers the client to pick (search results, pickers)."""
    return leaked(reply, [PickCb(client_id=t.client).pack()]) != []


def visible_to(telegram: int) -> tuple[list[Target], list[Target]]:
    """The corners whose clients `telegram` may see, and the others."""
    seen = [t for t in TARGETS.values() if relations(telegram, t) & CLIENT_SCOPE]
    return seen, [t for t in TARGETS.values() if t not in seen]


@pytest.mark.parametrize("who", list(SEARCHERS))
async def test_typed_search_finds_only_clients_in_scope(who: str, fake, bot, db) -> None:
    """By name, phone, INN or e-mail, in 🔎 Search and in every flow that asks for a client:
    a client out of scope is "nothing found" and nothing of it shows; one in scope is found
    (the control)."""
    s = await company_of(fake, db, bot)
    telegram = SEARCHERS[who]
    user, base = s.user(telegram), await s.base(telegram)
    seen, unseen = visible_to(telegram)

    async def search(setup: Setup, query: str) -> Reply:
        await s.forget_flows()
        await setup(user, base)
        return await user.send(query)

    for t in unseen:
        for flow, setup in SEARCHES.items():
            by_what = (t.client_name, t.phone, t.inn, t.email) if flow == "🔎 Search" else ()
            for query in by_what or (t.client_name,):  # flows search the same way
                reply = await search(setup, query)
                where = f"{flow}: {query!r} by {who}"
                assert not picks(reply, t), where
                assert not leaked(reply, [x for x in t.secrets if x not in query]), where
                assert "match" in reply.text or "Nothing found" in reply.text, where
    for t in seen:
        reply = await search(SEARCHES["🔎 Search"], t.phone)
        assert picks(reply, t), f"{who} does not find {t.client_name} by its phone"


@pytest.mark.parametrize("who", list(SEARCHERS))
async def test_inline_mode_offers_only_ones_own_clients(who: str, fake, bot, db) -> None:
    """@bot in any chat shares only the user's own clients, whoever they are (heads and admins
    included: it puts client data into chats outside the bot)."""
    s = await company_of(fake, db, bot)
    user = s.user(SEARCHERS[who])
    own = [t for t in TARGETS.values() if t.telegram == user.id]
    answer = await user.inline_query("SECRET-CLIENT")
    assert answer.titles == [f"🏢 {t.client_name}" for t in own]
    for t in TARGETS.values():
        if t in own:
            continue
        for query in (t.client_name, t.phone, t.inn, t.email, ""):
            answer = await user.inline_query(query)
            assert f"client-{t.client}" not in [r["id"] for r in answer.results], query
            assert not leaked(answer.reply, [x for x in t.secrets if x not in query]), query


@pytest.mark.parametrize("who", list(SEARCHERS))
async def test_a_reminder_links_only_a_client_in_scope(who: str, fake, bot, db) -> None:
    """ "remind me tomorrow at 10:00 to call <client>": the task is linked to the client when
    the user may see it, never otherwise (at most to a client of their own whose name shares
    words with it), and nothing of it shows."""
    s = await company_of(fake, db, bot)
    telegram = SEARCHERS[who]
    user = s.user(telegram)
    await s.base(telegram)
    seen, unseen = visible_to(telegram)
    for t in [*unseen, *seen]:
        await s.forget_flows()
        reply = await user.send(f"remind me tomorrow at 10:00 to call {t.client_name}")
        task = await db.scalar(
            select(Task).where(
                Task.owner_id == PEOPLE[telegram].user_id, Task.text.contains(t.client_name)
            )
        )
        assert task is not None, reply.text
        if t in seen:
            assert task.client_id == t.client, f"{who} could not link {t.client_name}"
            continue
        assert task.client_id not in [x.client for x in unseen], f"{who} linked {t.client_name}"
        assert not leaked(reply, [x for x in t.secrets if x not in t.client_name])


async def test_commands_with_someone_elses_codes_are_refused(fake, bot, db) -> None:
    """Staff opening a client's survey link or an invite: refused, the link and the invite stay
    unused, nobody new is linked or registered."""
    s = await company_of(fake, db, bot)
    async with db.session_factory() as session:
        session.add(
            Invite(
                code="invite-for-south-sales",
                role=Role.MANAGER,
                department_id=SOUTH,
                created_by_id=PEOPLE[2200].user_id,
                expires_at=utcnow() + timedelta(days=7),
            )
        )
        await session.commit()
    before = await snapshot(db)
    for who, telegram in SEARCHERS.items():
        user = s.user(telegram)
        await s.base(telegram)
        reply = await user.command("start", TARGETS["B1"].link_token)
        assert shown(reply) == [
            "This is a client's personal link. You are staff, so it can't be used by you."
        ], who
        reply = await user.command("start", "invite-for-south-sales")
        assert reply.text.startswith("You are already registered."), who
    assert changed_tables(before, await snapshot(db)) == []


async def test_a_new_client_like_a_colleagues_tells_only_who_handles_it(fake, bot, db) -> None:
    """By design (the client issue's duplicate rule) a manager who types an existing client's
    name, phone, e-mail or INN for a new client learns that it exists and who handles it, so
    they coordinate instead of adding a copy; nothing else of it shows and nothing is saved."""
    s = await company_of(fake, db, bot)
    manager, b1 = s.user(2101), TARGETS["B1"]
    told = "already in the base and Agent SECRET-USER-B1 handles it"
    before = await snapshot(db)
    for field_name, value in (
        ("name", b1.client_name),
        ("phone", b1.phone),
        ("email", b1.email),
        ("inn", b1.inn),
    ):
        await s.forget_flows()
        base = await s.base(2101)
        await manager.press_forged(ClientsMenuCb(action=ClientsMenuAction.NEW).pack(), message=base)
        if field_name != "name":
            await manager.send("Zeta Trading")
            await manager.press_forged(FormCb(action=FormAction.CHOOSE, value="company").pack())
            for _skipped in ("phone", "email", "inn"):
                if _skipped == field_name:
                    break
                await manager.press_forged(FormCb(action=FormAction.SKIP).pack())
        reply = await manager.send(value)
        assert told in reply.text, (field_name, reply.text)
        rest = [x for x in b1.secrets if x not in (b1.texts()["client"], b1.texts()["user"])]
        assert not leaked(reply, [x for x in rest if x != value]), field_name
        assert not picks(reply, b1), field_name
    assert changed_tables(before, await snapshot(db)) == []
