"""Texts used by more than one handler, and labels for enum values. Translated at call time."""

from __future__ import annotations

from datetime import UTC
from html import escape

from aiogram.utils.i18n import gettext as _
from babel.dates import format_date

from db.models import (
    ClientKind,
    ClientStatus,
    ComplaintSeverity,
    ComplaintStatus,
    DealStage,
    DepartmentKind,
    InteractionKind,
    ReferenceKind,
    Role,
    Survey,
    SurveyKind,
    User,
)


def one_line(text: str, limit: int) -> str:
    """The text on one line (runs of spaces and line breaks become a space), cut to `limit`
    characters with "…": for a button or a line of a list."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters: a longer text is cut, ending in "…"."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def no_access_text() -> str:
    return _(
        "Hello! This is FieldCRM, your company's client base in Telegram.\n\n"
        "Access is by invitation only: ask your head of department or an administrator "
        "for an invite link and open it on this phone."
    )


def access_disabled_text() -> str:
    return _("Your access to FieldCRM has been turned off. Contact your head or an administrator.")


def role_label(role: Role) -> str:
    return {
        Role.MANAGER: _("manager"),
        Role.HEAD: _("head of department"),
        Role.ADMIN: _("administrator"),
    }[role]


def department_kind_label(kind: DepartmentKind) -> str:
    return {
        DepartmentKind.SALES: _("sales"),
        DepartmentKind.MARKETING: _("marketing"),
        DepartmentKind.SERVICE: _("service"),
        DepartmentKind.OTHER: _("other"),
    }[kind]


def client_kind_label(kind: ClientKind) -> str:
    return {ClientKind.COMPANY: _("company"), ClientKind.PERSON: _("person")}[kind]


def client_status_label(status: ClientStatus) -> str:
    return {
        ClientStatus.LEAD: _("lead"),
        ClientStatus.ACTIVE: _("active client"),
        ClientStatus.INACTIVE: _("inactive"),
    }[status]


def interaction_kind_label(kind: InteractionKind) -> str:
    return {
        InteractionKind.CALL: _("📞 Call"),
        InteractionKind.MEETING: _("🤝 Meeting"),
        InteractionKind.VISIT: _("🚗 Visit"),
        InteractionKind.MESSAGE: _("💬 Message"),
        InteractionKind.EMAIL: _("✉️ E-mail"),
    }[kind]


def reference_kind_label(kind: ReferenceKind) -> str:
    return {
        ReferenceKind.PRODUCT_LINE: _("Product lines"),
        ReferenceKind.INDUSTRY: _("Industries"),
        ReferenceKind.REGION: _("Regions"),
        ReferenceKind.LEAD_SOURCE: _("Lead sources"),
        ReferenceKind.LOST_REASON: _("Reasons deals are lost"),
        ReferenceKind.COMPLAINT_CATEGORY: _("Complaint categories"),
    }[kind]


def severity_label(severity: ComplaintSeverity) -> str:
    return {
        ComplaintSeverity.LOW: _("low"),
        ComplaintSeverity.MEDIUM: _("medium"),
        ComplaintSeverity.HIGH: _("high"),
        ComplaintSeverity.CRITICAL: _("critical"),
    }[severity]


SEVERITY_MARK = {
    ComplaintSeverity.LOW: "⚪",
    ComplaintSeverity.MEDIUM: "🟡",
    ComplaintSeverity.HIGH: "🟠",
    ComplaintSeverity.CRITICAL: "🔴",
}


def complaint_status_label(status: ComplaintStatus) -> str:
    return {
        ComplaintStatus.OPEN: _("open"),
        ComplaintStatus.IN_PROGRESS: _("in progress"),
        ComplaintStatus.RESOLVED: _("resolved"),
        ComplaintStatus.CLOSED: _("closed"),
        ComplaintStatus.REJECTED: _("rejected"),
    }[status]


def stage_label(stage: DealStage) -> str:
    return {
        DealStage.NEW: _("New"),
        DealStage.QUALIFIED: _("Qualified"),
        DealStage.PROPOSAL: _("Proposal"),
        DealStage.NEGOTIATION: _("Negotiation"),
        DealStage.WON: _("Won"),
        DealStage.LOST: _("Lost"),
    }[stage]


def welcome_text(user: User) -> str:
    text = _("Welcome, {name}! You are in FieldCRM as {role}.").format(
        name=escape(user.full_name), role=role_label(user.role)
    )
    if user.department:
        text += "\n" + _("Department: {department}.").format(
            department=escape(user.department.name)
        )
    return text + "\n\n" + _("Use the menu below; /help shows what each section does.")


def help_text(user: User) -> str:
    parts = [
        _("<b>FieldCRM in short</b>"),
        _(
            "📝 <b>Log contact</b>: the fastest way to record a call, meeting or visit: tap it, "
            "tap the client, tap the kind, type one line, tap 💾 Save. Add an outcome, a next "
            "step with a date, a photo, a document or a voice note before saving if you like."
        ),
        _(
            "👤 <b>Clients</b>: add, find and open clients; the card shows contacts, the last "
            "contact, the next step and the whole history. Shortcuts: share a phone contact "
            "with me to add a client; share your location to log a visit."
        ),
        _(
            "💼 <b>Deals</b>: your open deals by stage with sums, weighted by each stage's "
            "chance, and this month's plan against fact. ➕ adds a deal; a deal's card moves it "
            "to the next stage, marks it won or lost, and logs a contact about it."
        ),
        _(
            "📊 <b>KPI</b>: your figures for a day, week, month or quarter against the period "
            "before, with a chart; ◀ Previous goes back in time."
        ),
        _("⚙️ <b>Settings</b>: language and time zone (reminders come in your local time)."),
        _("/cancel leaves any question; the Back button goes one step back."),
        _(
            "Whatever you type is saved step by step: if the bot restarts, just carry on "
            "where you were."
        ),
    ]
    if user.role in (Role.HEAD, Role.ADMIN):
        parts.append(
            _(
                "👥 <b>Team</b>: your people, their roles and access; ➕ Invite makes a one-time "
                "link for a new colleague (/invite does the same)."
            )
        )
        parts.append(
            _(
                "📋 <b>Plans</b> (in 💼 Deals): monthly targets for revenue, deals won and "
                "contacts; copy last month's or take last year's same month plus N%."
            )
        )
        parts.append(
            _(
                "📊 In <b>KPI</b> you also see your department's leaderboard, each manager, and "
                "the figures by product line, industry, region and lead source. Every morning "
                "(08:30 unless changed in ⚙️ Settings) the daily digest brings yesterday's "
                "figures and what needs your attention; /digest sends it now."
            )
        )
    if user.role is Role.ADMIN:
        parts.append(
            _(
                "🛠 <b>Admin</b>: departments and the lists everyone picks from: product lines, "
                "industries, regions, lead sources, reasons deals are lost; and each deal "
                "stage's chance. Archived items disappear from pickers; old records keep them."
            )
        )
    return "\n\n".join(parts)


def survey_question(survey: Survey, company: str, locale: str) -> str:
    """The question in the client's language; the deal's or complaint's own words are staff
    notes, so they are not quoted to the client."""
    if survey.kind is SurveyKind.CSAT:
        when = survey.created_at.astimezone(UTC).date()
        question = _(
            "How satisfied are you with how we handled your recent request ({date})? "
            "1 — very dissatisfied, 5 — very satisfied."
        ).format(date=format_date(when, format="long", locale=locale))
    else:
        question = _(
            "How likely are you to recommend us to a friend or colleague? "
            "0 — not at all likely, 10 — extremely likely."
        )
    return f"<b>{escape(company)}</b>\n{question}\n\n" + _("/stop — no more questions.")
