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
    AGENDA = "a"
    SET_AGENDA = "sa"
    DIGEST = "dg"  # heads and admins: the daily digest's time
    SET_DIGEST = "sd"


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


class ClientAction(StrEnum):
    OPEN = "o"
    HISTORY = "h"
    FILES = "f"
    EDIT = "e"
    FIELD = "fd"
    SET = "s"
    CONTACTS = "c"
    ADD_CONTACT = "ac"
    LOCATION = "lc"
    REASSIGN = "r"
    SET_OWNER = "so"
    LOG = "l"
    REMIND = "rm"
    DEALS = "d"
    NEW_DEAL = "nd"
    COMPLAINT = "cp"  # a new complaint about this client


class ClientCb(CallbackData, prefix="cl"):
    """Actions on an existing client; `value` is a field name, a choice or an id."""

    action: ClientAction
    client_id: int
    page: int = 0
    value: str = ""


class FormAction(StrEnum):
    CHOOSE = "c"  # a button answer to the current question (kind, a list item...)
    SKIP = "s"
    SAVE = "v"
    EDIT = "e"  # from the summary: pick a field to change
    FIELD = "f"  # the field picked


class FormCb(CallbackData, prefix="fm"):
    """Answers inside a flow; which flow and step is known from the FSM state."""

    action: FormAction
    value: str = ""


class PickCb(CallbackData, prefix="pk"):
    """A client picked from recent clients, search matches or nearest ones."""

    client_id: int


class ListCb(CallbackData, prefix="ls"):
    """ "My clients" with its filters (s: status, i: industry id, r: region id, t: stale)."""

    page: int = 0
    status: str = ""
    industry: int = 0
    region: int = 0
    stale: bool = False


class SearchCb(CallbackData, prefix="sr"):
    page: int


class ClientsMenuAction(StrEnum):
    NEW = "n"
    SEARCH = "s"
    LIST = "l"


class ClientsMenuCb(CallbackData, prefix="cm"):
    action: ClientsMenuAction


class InlineSwitchCb(CallbackData, prefix="ais"):
    """The "inline search for managers" switch: empty shows it, "on" / "off" sets it."""

    value: str = ""


class TaskAction(StrEnum):
    DONE = "d"
    SNOOZE = "s"  # value: minutes, or "tm" for tomorrow at 09:00 local
    RESCHEDULE = "r"
    OPEN = "o"
    PAGE = "p"
    NEW = "n"
    CANCEL = "c"  # undo a task just added


class TaskCb(CallbackData, prefix="tk"):
    action: TaskAction
    task_id: int = 0
    value: str = ""
    page: int = 0


class DealAction(StrEnum):
    OPEN = "o"
    NEXT = "n"  # to the next stage; `version` is the card's, so a double tap moves it once
    STAGES = "st"  # pick a stage
    SET_STAGE = "ss"  # value: a stage
    WON = "w"
    LOST = "l"
    EDIT = "e"
    FIELD = "f"  # value: a field of deals.EDITABLE_FIELDS
    LOG = "lg"
    HISTORY = "h"


class DealCb(CallbackData, prefix="dl"):
    action: DealAction
    deal_id: int
    version: int = 0
    value: str = ""


class PipelineAction(StrEnum):
    HOME = "h"  # the pipeline of a scope with plan against fact
    LIST = "l"  # its open deals (optionally one stage), paged
    NEW = "n"  # a new deal
    OWNERS = "ow"  # by manager
    LINES = "pl"  # by product line
    DEPARTMENTS = "dp"  # by department (admins)


class PipelineCb(CallbackData, prefix="pp"):
    """A scope is an owner id, or a department id, or neither (the company, admins only)."""

    action: PipelineAction
    owner: int = 0
    department: int = 0
    stage: str = ""
    page: int = 0


class PlanAction(StrEnum):
    HOME = "h"  # the team's plans of `month`
    OPEN = "o"  # one member's plan and fact
    SET = "s"  # start typing a member's plan
    COPY = "c"  # last month's plans to this month
    GROW = "g"  # last year's same month + N%
    GROW_BY = "gb"  # value: N


class PlanCb(CallbackData, prefix="pl"):
    action: PlanAction
    month: str = ""  # "2026-11"
    subject_id: int = 0
    value: str = ""


class StageCb(CallbackData, prefix="stg"):
    """Admin: the deal stages' default probabilities; empty stage lists them."""

    stage: str = ""


class ComplaintAction(StrEnum):
    OPEN = "o"
    TAKE = "t"
    ASSIGN = "a"  # value: empty lists the service people, else a user id
    COMMENT = "c"
    RESOLVE = "r"
    ASK_REASSIGN = "ar"
    SEVERITY = "sv"  # value: empty lists severities, else a severity
    CLOSE = "cl"
    REJECT = "rj"
    REOPEN = "ro"
    HISTORY = "h"
    FILES = "f"
    LIST = "l"  # value: a view (services/complaints.py View); page
    NEW = "n"  # a new complaint (client picked in the flow)


class ComplaintCb(CallbackData, prefix="cp"):
    action: ComplaintAction
    complaint_id: int = 0
    version: int = 0
    value: str = ""
    page: int = 0


class ConsentCb(CallbackData, prefix="cs"):
    """A client's answer to the consent question; carries the link's token (unguessable),
    never a bare id, so nobody can link themselves to a client by forging it."""

    token: str
    agree: bool


class SurveyCb(CallbackData, prefix="sv"):
    """A client's score, or (score -1) Skip of the comment."""

    survey_id: int
    score: int


class ClientChatAction(StrEnum):
    STOP = "stop"
    RESUME = "resume"


class ClientChatCb(CallbackData, prefix="cc"):
    action: ClientChatAction


class SurveyLinkAction(StrEnum):
    LINK = "l"  # a fresh personal link (and its QR code) for the client
    REVOKE = "r"  # value: the link id
    ASK = "a"  # ask for feedback now


class SurveyLinkCb(CallbackData, prefix="sl"):
    action: SurveyLinkAction
    client_id: int
    value: int = 0


class KpiView(StrEnum):
    DASHBOARD = "d"  # the figures of a slice with the change, and one chart
    BREAKDOWN = "b"  # a slice by `dimension`, with a button per row to open its dashboard
    DATES = "t"  # ask for a range of dates to show the slice for


class KpiCb(CallbackData, prefix="kpi"):
    """A KPI screen: the period (a PeriodKind value, `ago` periods back; a custom range is
    `days` days from day `since`, counted from 2000-01-01) and a slice as ids (owner,
    department, and one reference item of kind `dimension`'s list); codes are
    bot.keyboards.kpi's. Every id is checked again by bot.services.kpi.check_slice."""

    view: KpiView
    period: str = "month"
    ago: int = 0
    owner: int = 0
    department: int = 0
    dimension: str = ""  # BREAKDOWN: what it is by; DASHBOARD: which list `item` is from
    item: int = 0
    since: int = 0
    days: int = 0


class ImportAction(StrEnum):
    START = "s"  # the admin's 📥 Import clients
    CONFIRM = "ok"
    COLUMNS = "cs"  # the list of the file's columns
    COLUMN = "c"  # one column: pick its field
    MAP = "m"  # `column` holds `field` ("" ignores it)
    PREVIEW = "p"  # back to the preview


class ImportCb(CallbackData, prefix="imp"):
    """`token` ties a button to the preview it belongs to (FSM data), so an older preview's
    buttons do nothing; `field` is a bot.services.imports.FIELDS name."""

    action: ImportAction
    token: str = ""
    column: int = 0
    field: str = ""


class ExportCb(CallbackData, prefix="ex"):
    """An export being chosen: what (`kind`), then `period`, then `fmt`; each step's buttons
    carry the earlier choices. `user` and `act` are the audit log's filters when exporting it."""

    kind: str = ""
    period: str = ""
    fmt: str = ""
    user: int = 0
    act: str = ""


class AuditLogView(StrEnum):
    PAGE = "p"  # the log's `page` with the filters
    USERS = "u"  # pick whose entries (`page`: of the people)
    ACTIONS = "a"  # pick which action


class AuditLogCb(CallbackData, prefix="al"):
    """The audit log screen (admins): `user` (0: anyone) and `act` ("": any) filter it."""

    view: AuditLogView
    page: int = 0
    user: int = 0
    act: str = ""


class OffboardAction(StrEnum):
    PICK = "p"  # the people who can take over `user_id`'s work (`page`)
    CONFIRM = "c"  # `to` picked: what moves, and a confirmation
    DO = "d"  # hand over and turn off


class OffboardCb(CallbackData, prefix="off"):
    """Deactivating `user_id` by handing their work over to `to` (bot/handlers/offboarding.py)."""

    action: OffboardAction
    user_id: int
    to: int = 0
    page: int = 0


class EraseCb(CallbackData, prefix="er"):
    """Admins: erase a client's personal data; `confirm` is the second, final tap."""

    client_id: int
    confirm: bool = False
