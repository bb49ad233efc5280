"""Offboarding: an admin (or a manager's head) turns off someone who leaves, and in the same
step everything they were working on goes to a colleague they pick, who is told what they got.
Closed work stays credited to whoever did it; the one who left is cut off on their next tap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from bot.keyboards.callbacks import OffboardAction, OffboardCb, TeamAction, TeamCb
from db.models import (
    AuditEntry,
    Client,
    ClientChat,
    ClientKind,
    Complaint,
    ComplaintChange,
    ComplaintSeverity,
    ComplaintStatus,
    Deal,
    DealStage,
    Invite,
    OutboxMessage,
    Role,
    Survey,
    SurveyKind,
    SurveyStatus,
    SurveyTrigger,
    Task,
    TaskStatus,
    User,
)
from db.types import utcnow
from tests.conftest import Db
from tests.stories import add_department, admin_joins, code_of, colleague_joins, user_row

HANDED_OVER = "✅ Hand over and deactivate"


@dataclass
class Work:
    """Row ids seeded for Petr (who leaves) and for others (which must not move)."""

    petr_clients: list[int]
    anna_client: int
    open_deal: int
    won_deal: int
    lost_deal: int
    anna_deal: int
    assigned_open: int
    assigned_resolved: int
    reported: int
    open_task: int
    done_task: int
    anna_task: int
    pending_survey: int
    answered_survey: int


async def seed_work(db: Db, petr_tg: int, anna_tg: int) -> Work:
    """Petr: two clients, an open, a won and a lost deal, complaints assigned to him (open and
    resolved) and one he reported, open and done tasks, a pending and an answered survey.
    Anna already has a client, a deal and a task of her own."""
    petr = await user_row(db, petr_tg)
    anna = await user_row(db, anna_tg)
    now = utcnow()
    async with db.session_factory() as session:

        def client(name: str, owner: User) -> Client:
            return Client(
                name=name,
                name_key=name.lower(),
                search_text=name.lower(),
                kind=ClientKind.COMPANY,
                owner_id=owner.id,
            )

        acme, beta, gamma = client("Acme", petr), client("Beta", petr), client("Gamma", anna)
        session.add_all([acme, beta, gamma])
        await session.flush()

        def deal(of: Client, owner: User, stage: DealStage) -> Deal:
            closed = None if stage.is_open else now
            return Deal(
                client_id=of.id,
                owner_id=owner.id,
                title=f"{of.name} {stage.value}",
                amount_minor=100_000,
                currency="RUB",
                stage=stage,
                closed_at=closed,
            )

        deals = [
            deal(acme, petr, DealStage.PROPOSAL),
            deal(acme, petr, DealStage.WON),
            deal(beta, petr, DealStage.LOST),
            deal(gamma, anna, DealStage.NEW),
        ]

        def complaint(status: ComplaintStatus, assignee: User | None) -> Complaint:
            return Complaint(
                client_id=gamma.id,
                severity=ComplaintSeverity.MEDIUM,
                description="It broke",
                status=status,
                reporter_id=(anna if assignee is not None else petr).id,
                assignee_id=assignee.id if assignee else None,
                sla_due_at=now + timedelta(days=1),
            )

        complaints = [
            complaint(ComplaintStatus.IN_PROGRESS, petr),
            complaint(ComplaintStatus.RESOLVED, petr),
            complaint(ComplaintStatus.OPEN, None),  # Petr reported it: that stays his
        ]

        def task(owner: User, status: TaskStatus) -> Task:
            return Task(
                owner_id=owner.id, text="Call back", due_at=now, status=status, client_id=acme.id
            )

        tasks = [
            task(petr, TaskStatus.OPEN),
            task(petr, TaskStatus.DONE),
            task(anna, TaskStatus.OPEN),
        ]
        session.add_all([*deals, *complaints, *tasks])
        chat = ClientChat(
            telegram_id=5001, client_id=acme.id, name="Ivan", locale="en", consented_at=now
        )
        session.add(chat)
        await session.flush()

        def survey(touchpoint: str, status: SurveyStatus) -> Survey:
            return Survey(
                touchpoint=touchpoint,
                kind=SurveyKind.NPS,
                trigger=SurveyTrigger.PERIODIC,
                status=status,
                client_id=acme.id,
                chat_id=chat.id,
                owner_id=petr.id,
                scheduled_at=now,
                score=9 if status is SurveyStatus.ANSWERED else None,
            )

        surveys = [survey("p:1", SurveyStatus.SCHEDULED), survey("p:2", SurveyStatus.ANSWERED)]
        session.add_all(surveys)
        await session.commit()
        return Work(
            petr_clients=[acme.id, beta.id],
            anna_client=gamma.id,
            open_deal=deals[0].id,
            won_deal=deals[1].id,
            lost_deal=deals[2].id,
            anna_deal=deals[3].id,
            assigned_open=complaints[0].id,
            assigned_resolved=complaints[1].id,
            reported=complaints[2].id,
            open_task=tasks[0].id,
            done_task=tasks[1].id,
            anna_task=tasks[2].id,
            pending_survey=surveys[0].id,
            answered_survey=surveys[1].id,
        )


async def owners(db: Db, model: type, column: str, *ids: int) -> list[int | None]:
    rows = await db.all(select(model).where(model.id.in_(ids)).order_by(model.id))
    return [getattr(row, column) for row in rows]


async def audit(db: Db, action: str) -> list[AuditEntry]:
    return await db.all(select(AuditEntry).where(AuditEntry.action == action))


# Stories


async def test_admin_hands_a_leavers_work_to_a_colleague_who_is_told(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    await add_department(admin, "North")
    petr = await colleague_joins(fake, admin, 2002, "Petr")
    anna = await colleague_joins(fake, admin, 2003, "Anna")
    await colleague_joins(fake, admin, 2004, "Boris", department="North")
    work = await seed_work(db, petr.id, anna.id)

    await admin.tap("👥 Team")
    await admin.press("👤 Petr")
    reply = await admin.press("⛔ Deactivate")
    for line in (
        "their work goes to a colleague",
        "👤 Clients: 2",
        "💼 Open deals: 1",
        "⚠️ Complaints assigned: 1",
        "⏰ Open tasks: 1",
        "📊 Surveys awaiting an answer: 1",
        "Who takes it over?",
    ):
        assert line in reply.text
    # Petr's department first, then everyone else the admin sees; never Petr himself.
    assert reply.last.button_labels() == ["👤 Anna", "👤 Boris", "🛡 Olga Admin", "← Back"]
    assert (await user_row(db, petr.id)).is_active  # nothing happens before the confirmation

    reply = await admin.press("👤 Anna")
    assert "Hand over Petr's work to Anna and turn off Petr's access?" in reply.text
    reply = await admin.press(HANDED_OVER)
    assert reply.callback_answer["text"] == "Access turned off."
    assert "Handed over to Anna:" in reply.text and "Access: turned off" in reply.text
    assert "✅ Reactivate" in reply.last.button_labels()

    petr_row, anna_row = await user_row(db, petr.id), await user_row(db, anna.id)
    assert not petr_row.is_active
    a, p = anna_row.id, petr_row.id
    assert await owners(db, Client, "owner_id", *work.petr_clients, work.anna_client) == [a, a, a]
    deals = await owners(
        db, Deal, "owner_id", work.open_deal, work.won_deal, work.lost_deal, work.anna_deal
    )
    assert deals == [a, p, p, a]  # closed deals stay credited to Petr
    complaints = await owners(
        db, Complaint, "assignee_id", work.assigned_open, work.assigned_resolved, work.reported
    )
    assert complaints == [a, p, None]
    assert await owners(db, Complaint, "reporter_id", work.reported) == [p]
    tasks = await owners(db, Task, "owner_id", work.open_task, work.done_task, work.anna_task)
    assert tasks == [a, p, a]
    surveys = await owners(db, Survey, "owner_id", work.pending_survey, work.answered_survey)
    assert surveys == [a, p]
    change = await db.scalar(
        select(ComplaintChange).where(ComplaintChange.complaint_id == work.assigned_open)
    )
    assert (change.kind, change.value) == ("assigned", str(a))  # the complaint's history says so

    (handover,) = await audit(db, "work_handed_over")
    assert handover.object_id == p and handover.actor_id == (await user_row(db, admin.id)).id
    assert handover.details == {
        "to": a,
        "clients": 2,
        "open_deals": 1,
        "complaints": 1,
        "tasks": 1,
        "surveys": 1,
    }
    assert len(await audit(db, "user_deactivated")) == 1

    await bot.sweep()
    (told,) = [m for m in anna.messages if "work is yours now" in m.content]
    assert told.text.startswith("📦 Petr's work is yours now")
    for line in ("👤 Clients: 2", "💼 Open deals: 1", "⚠️ Complaints assigned: 1"):
        assert line in told.text
    assert "📊 Surveys awaiting an answer: 1" in told.text
    assert not [m for m in admin.messages if "work is yours now" in m.content]

    # Petr is cut off on his very next tap, and Anna works with what she got.
    reply = await petr.tap("👤 Clients")
    assert "access to FieldCRM has been turned off" in reply.text
    reply = await petr.press_forged(TeamCb(action=TeamAction.PAGE).pack())
    assert "turned off" in reply.text

    # A second tap on the old confirmation changes nothing.
    reply = await admin.press_forged(OffboardCb(action=OffboardAction.DO, user_id=p, to=a).pack())
    assert "already turned off" in reply.callback_answer["text"]
    assert len(await audit(db, "work_handed_over")) == 1


async def test_someone_with_nothing_to_hand_over_is_turned_off_at_once(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    await colleague_joins(fake, admin, 2002, "Petr")

    await admin.tap("👥 Team")
    await admin.press("👤 Petr")
    reply = await admin.press("⛔ Deactivate")
    assert reply.callback_answer["text"] == "Access turned off."
    assert "Who takes it over?" not in reply.text
    assert not (await user_row(db, 2002)).is_active
    assert len(await audit(db, "user_deactivated")) == 1
    assert await audit(db, "work_handed_over") == []


async def test_a_leaving_heads_unused_invites_stop_working(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    head = await colleague_joins(fake, admin, 3003, "Nina", role="head of department")
    await head.command("invite")
    code = code_of((await head.press("30 d.")).text)

    await admin.tap("👥 Team")
    await admin.press("⭐ Nina")
    await admin.press("⛔ Deactivate")
    (entry,) = await audit(db, "user_deactivated")
    assert entry.details == {"invites_expired": 1}
    nina_id = (await user_row(db, head.id)).id
    invite = await db.scalar(select(Invite).where(Invite.created_by_id == nina_id))
    assert invite.used_at is None and invite.expires_at <= utcnow()

    newcomer = fake.user(4004, "Max", language_code="en")
    await newcomer.command("start", code)
    assert await user_row(db, 4004) is None


async def test_a_head_hands_over_within_their_department_only(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "North")
    await add_department(admin, "South")
    head = await colleague_joins(
        fake, admin, 3003, "Nina", role="head of department", department="North"
    )
    petr = await colleague_joins(fake, admin, 2002, "Petr", department="North")
    vera = await colleague_joins(fake, admin, 2005, "Vera", department="North")
    sasha = await colleague_joins(fake, admin, 2003, "Sasha", department="South")
    work = await seed_work(db, petr.id, sasha.id)
    petr_id = (await user_row(db, petr.id)).id
    sasha_id = (await user_row(db, sasha.id)).id
    nina_id = (await user_row(db, head.id)).id
    admin_id = (await user_row(db, admin.id)).id

    await head.tap("👥 Team")
    await head.press("👤 Petr")
    reply = await head.press("⛔ Deactivate")
    assert reply.last.button_labels() == ["⭐ Nina", "👤 Vera", "← Back"]

    # Forged: to someone of another department, to the admin, to Petr himself, or another
    # department's manager to be offboarded. Nothing moves.
    for forged in (
        OffboardCb(action=OffboardAction.DO, user_id=petr_id, to=sasha_id),
        OffboardCb(action=OffboardAction.CONFIRM, user_id=petr_id, to=admin_id),
        OffboardCb(action=OffboardAction.DO, user_id=petr_id, to=petr_id),
        OffboardCb(action=OffboardAction.PICK, user_id=sasha_id),
        OffboardCb(action=OffboardAction.DO, user_id=sasha_id, to=nina_id),
        OffboardCb(action=OffboardAction.DO, user_id=admin_id, to=nina_id),
        TeamCb(action=TeamAction.DEACTIVATE, user_id=sasha_id),
    ):
        reply = await head.press_forged(forged.pack())
        assert "Not found" in reply.callback_answer["text"], forged
        assert "Sasha" not in reply.text
    assert await owners(db, Client, "owner_id", *work.petr_clients) == [petr_id, petr_id]
    assert (await user_row(db, 2003)).is_active and (await user_row(db, petr.id)).is_active

    # A manager can't offboard anyone, whatever the callback says.
    for forged in (
        OffboardCb(action=OffboardAction.DO, user_id=petr_id, to=(await user_row(db, 2005)).id),
        OffboardCb(action=OffboardAction.PICK, user_id=petr_id),
        TeamCb(action=TeamAction.DEACTIVATE, user_id=petr_id),
    ):
        reply = await vera.press_forged(forged.pack())
        assert "You don't have access to this." in reply.callback_answer["text"]
    assert (await user_row(db, petr.id)).is_active

    # The head takes it over herself: she sees the summary; no message to herself.
    await head.press("⭐ Nina")
    reply = await head.press(HANDED_OVER)
    assert "Handed over to Nina:" in reply.text and "👤 Clients: 2" in reply.text
    assert await owners(db, Client, "owner_id", *work.petr_clients) == [nina_id, nina_id]
    await bot.sweep()
    outbox = await db.all(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("handover%")))
    assert outbox == []
    assert (await user_row(db, 2003)).role is Role.MANAGER


async def test_only_active_colleagues_can_take_over(fake, bot, db):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    petr = await colleague_joins(fake, admin, 2002, "Petr")
    anna = await colleague_joins(fake, admin, 2003, "Anna")
    work = await seed_work(db, petr.id, anna.id)
    await colleague_joins(fake, admin, 2004, "Gone")
    await admin.tap("👥 Team")
    await admin.press("👤 Gone")
    await admin.press("⛔ Deactivate")  # nothing to hand over
    gone_id = (await user_row(db, 2004)).id
    petr_id = (await user_row(db, petr.id)).id

    await admin.tap("👥 Team")
    await admin.press("👤 Petr")
    reply = await admin.press("⛔ Deactivate")
    assert (
        "⛔ Gone" not in reply.last.button_labels() and "👤 Gone" not in reply.last.button_labels()
    )
    reply = await admin.press_forged(
        OffboardCb(action=OffboardAction.DO, user_id=petr_id, to=gone_id).pack()
    )
    assert "Not found" in reply.callback_answer["text"]
    assert await owners(db, Client, "owner_id", *work.petr_clients) == [petr_id, petr_id]
    assert (await user_row(db, petr.id)).is_active
