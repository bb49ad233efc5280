"""A client asks to be forgotten: an admin erases their personal data from the card in two
taps. The contacts, deals, complaints and scores stay for the company's figures; the client's
links stop working, their Telegram chat is unlinked and they get nothing more from us."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from bot.keyboards.callbacks import (
    ClientAction,
    ClientCb,
    EraseCb,
    SurveyLinkAction,
    SurveyLinkCb,
)
from db.models import (
    Attachment,
    AttachmentKind,
    AuditEntry,
    Client,
    ClientChat,
    ClientLink,
    Complaint,
    ComplaintChange,
    ComplaintSeverity,
    ContactPerson,
    Deal,
    DealStage,
    DealStageChange,
    Interaction,
    InteractionKind,
    OutboxMessage,
    OutboxStatus,
    Survey,
    SurveyKind,
    SurveyStatus,
    SurveyTrigger,
    Task,
    TaskStatus,
)
from db.types import utcnow
from tests.conftest import ADMIN_ID, Db
from tests.stories import user_row
from tests.test_client_search import open_search
from tests.test_contact_log import add_client
from tests.test_surveys import client_agrees, open_card, survey_link, team

PERSONAL = ("Acme", "+79161234567", "ivan@acme.ru", "7707083893", "Tverskaya 1", "Ivan Petrov")


async def seed_history(db: Db, client_id: int, manager_tg: int, chat_tg: int) -> None:
    """What a year with Acme leaves behind, with personal data in the free text."""
    manager = await user_row(db, manager_tg)
    now = utcnow()
    async with db.session_factory() as session:
        await session.execute(
            update(Client)
            .where(Client.id == client_id)
            .values(
                phone="+79161234567",
                phone_digits="79161234567",
                email="ivan@acme.ru",
                inn="7707083893",
                address="Tverskaya 1",
                notes="Ivan Petrov prefers calls after 6",
                latitude=55.76,
                longitude=37.61,
            )
        )
        session.add(ContactPerson(client_id=client_id, name="Ivan Petrov", phone="+79161234567"))
        visits = [
            Interaction(
                client_id=client_id,
                author_id=manager.id,
                kind=kind,
                summary="Met Ivan Petrov at Tverskaya 1",
                outcome="He wants a discount",
                next_step="Call Ivan",
                next_step_due_at=now + timedelta(days=1),
                latitude=55.76,
                longitude=37.61,
            )
            for kind in (InteractionKind.VISIT, InteractionKind.CALL)
        ]
        session.add_all(visits)
        deal = Deal(
            client_id=client_id,
            owner_id=manager.id,
            title="Acme boilers",
            amount_minor=150_000_00,
            currency="RUB",
            stage=DealStage.WON,
            summary="Ivan Petrov signs",
            closed_at=now,
        )
        complaint = Complaint(
            client_id=client_id,
            severity=ComplaintSeverity.HIGH,
            description="Ivan Petrov says the boiler leaks",
            reporter_id=manager.id,
            sla_due_at=now + timedelta(days=1),
            resolution="Replaced",
        )
        session.add_all([deal, complaint])
        await session.flush()
        session.add_all(
            [
                Attachment(
                    interaction_id=visits[0].id, kind=AttachmentKind.PHOTO, file_id="photo-1"
                ),
                Attachment(complaint_id=complaint.id, kind=AttachmentKind.VOICE, file_id="voice-1"),
                DealStageChange(
                    deal_id=deal.id,
                    to_stage=DealStage.WON,
                    actor_id=manager.id,
                    amount_minor=deal.amount_minor,
                    comment="Ivan agreed",
                ),
                ComplaintChange(
                    complaint_id=complaint.id, kind="comment", comment="Called Ivan Petrov"
                ),
                Task(owner_id=manager.id, text="Call Ivan", due_at=now, client_id=client_id),
                Task(
                    owner_id=manager.id,
                    text="Send Ivan the offer",
                    due_at=now,
                    client_id=client_id,
                    status=TaskStatus.DONE,
                    done_at=now,
                ),
            ]
        )
        chat = await session.scalar(select(ClientChat).where(ClientChat.telegram_id == chat_tg))
        session.add_all(
            [
                Survey(
                    touchpoint=f"{kind.value}:{client_id}",
                    kind=SurveyKind.NPS,
                    trigger=SurveyTrigger.PERIODIC if score else SurveyTrigger.MANUAL,
                    status=SurveyStatus.ANSWERED if score else SurveyStatus.SCHEDULED,
                    client_id=client_id,
                    chat_id=chat.id,
                    owner_id=manager.id,
                    scheduled_at=now,
                    score=score,
                    comment="Ivan Petrov here: too slow" if score else None,
                    answered_at=now if score else None,
                )
                for kind, score in ((SurveyTrigger.PERIODIC, 4), (SurveyTrigger.MANUAL, None))
            ]
        )
        session.add(
            OutboxMessage(
                chat_id=chat_tg, dedupe_key="survey:queued", payload={"text": "Hello Ivan"}
            )
        )
        await session.commit()


async def figures(db: Db, client_id: int) -> dict[str, object]:
    """What the KPIs count about the client."""

    async def count(model: type, *where: object) -> int:
        return await db.scalar(select(func.count()).select_from(model).where(*where))

    return {
        "interactions": await count(Interaction, Interaction.client_id == client_id),
        "deals": await count(Deal, Deal.client_id == client_id),
        "won": await db.scalar(select(func.sum(Deal.amount_minor)).where(Deal.stage == "won")),
        "complaints": await count(Complaint, Complaint.client_id == client_id),
        "scores": await db.all(select(Survey.score).where(Survey.score.is_not(None))),
        "done_tasks": await count(Task, Task.status == TaskStatus.DONE),
        "owner": await db.scalar(select(Client.owner_id).where(Client.id == client_id)),
    }


async def test_admin_erases_a_client_and_the_figures_stay(fake, bot, db):
    manager, _head = await team(fake)
    client_id = await add_client(db, manager, "Acme")
    token = await survey_link(manager, "Acme")
    ivan, _ = await client_agrees(fake, token)
    spare = await survey_link(manager, "Acme")  # a second link, not used yet
    await seed_history(db, client_id, manager.id, ivan.id)
    before = await figures(db, client_id)

    admin = fake.user(ADMIN_ID)
    await open_card(admin, "Acme")
    reply = await admin.press("🗑 Erase")
    assert "Erase Acme?" in reply.text and "This cannot be undone." in reply.text
    assert await db.scalar(select(Client.erased_at)) is None  # nothing yet
    reply = await admin.press("🗑 Yes, erase for good")
    assert reply.callback_answer["text"].startswith("Erased:")
    card = reply.last
    assert f"Erased client #{client_id}" in card.text
    assert "🗑 Erase" not in card.button_labels()
    for value in PERSONAL:
        assert value not in card.text

    client = await db.scalar(select(Client).where(Client.id == client_id))
    assert client.name == f"Erased client #{client_id}" and client.erased_at is not None
    assert [client.phone, client.phone_digits, client.email, client.inn, client.address] == [
        None
    ] * 5
    assert (client.notes, client.latitude, client.longitude) == (None, None, None)
    assert await db.all(select(ContactPerson)) == []
    assert await db.all(select(Attachment)) == []
    assert await figures(db, client_id) == before  # the company's numbers do not change

    visits = await db.all(select(Interaction))
    assert {(v.summary, v.outcome, v.next_step, v.latitude) for v in visits} == {
        ("—", None, None, None)
    }
    deal = await db.scalar(select(Deal))
    assert (deal.title, deal.summary, deal.amount_minor) == (f"#{deal.id}", None, 150_000_00)
    assert (
        await db.all(select(DealStageChange.comment).where(DealStageChange.comment.is_not(None)))
        == []
    )
    complaint = await db.scalar(select(Complaint))
    assert (complaint.description, complaint.resolution) == ("—", None)
    assert complaint.severity is ComplaintSeverity.HIGH
    assert (
        await db.all(select(ComplaintChange.comment).where(ComplaintChange.comment.is_not(None)))
        == []
    )
    tasks = await db.all(select(Task).order_by(Task.id))
    assert [(t.text, t.status) for t in tasks] == [
        ("—", TaskStatus.CANCELLED),
        ("—", TaskStatus.DONE),
    ]
    surveys = await db.all(select(Survey).order_by(Survey.id))
    assert [(s.status, s.score, s.comment) for s in surveys] == [
        (SurveyStatus.ANSWERED, 4, None),
        (SurveyStatus.SKIPPED, None, None),
    ]
    links = await db.all(select(ClientLink))
    assert links and all(link.revoked_at is not None for link in links)
    chat = await db.scalar(select(ClientChat))
    assert chat.telegram_id < 0 and chat.name == "—" and not chat.active
    queued = await db.scalar(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == "survey:queued")
    )
    assert (queued.status, queued.payload, queued.chat_id) == (
        OutboxStatus.FAILED,
        {},
        chat.telegram_id,
    )

    (entry,) = await db.all(select(AuditEntry).where(AuditEntry.action == "client_erased"))
    assert entry.object_id == client_id
    assert entry.actor_id == (await user_row(db, ADMIN_ID)).id
    assert entry.details["contacts"] == 1 and entry.details["files"] == 2
    assert entry.details["chats"] == 1 and entry.details["links"] >= 1
    assert not any(value in str(entry.details) for value in PERSONAL)

    # The card keeps what the figures keep; nothing new is recorded, forged buttons included.
    await open_search(manager)
    await manager.send(f"Erased client #{client_id}")
    card = (await manager.press(f"🏢 Erased client #{client_id}")).last
    assert card.button_labels() == ["🕘 History", "💼 Deals"]
    erased = "personal data was erased on request"
    for forged in (
        ClientCb(action=ClientAction.LOG, client_id=client_id),
        ClientCb(action=ClientAction.EDIT, client_id=client_id),
        ClientCb(action=ClientAction.COMPLAINT, client_id=client_id),
        SurveyLinkCb(action=SurveyLinkAction.ASK, client_id=client_id),
    ):
        reply = await manager.press_forged(forged.pack())
        assert erased in reply.callback_answer["text"], forged
    assert await db.all(select(Interaction).where(Interaction.summary != "—")) == []
    assert await db.scalar(select(func.count()).select_from(Complaint)) == 1

    # The client gets nothing more, and is a stranger to the bot now.
    heard = len(ivan.messages)
    bot.clock.advance(days=200)
    await bot.sweep()
    assert len(ivan.messages) == heard
    reply = await ivan.command("start")
    assert "Access is by invitation only" in reply.text
    reply = await fake.user(5009, "Someone", language_code="en").command("start", spare)
    assert "this link doesn't work" in reply.text

    # Nobody finds the client by the old name; erasing again changes nothing.
    await open_search(admin)
    reply = await admin.send("Acme")
    assert "Nothing found" in reply.text
    reply = await admin.press_forged(EraseCb(client_id=client_id, confirm=True).pack())
    assert "already erased" in reply.callback_answer["text"]
    assert len(await db.all(select(AuditEntry).where(AuditEntry.action == "client_erased"))) == 1


async def test_only_admins_can_erase(fake, bot, db):
    manager, head = await team(fake)
    client_id = await add_client(db, manager, "Acme")
    await open_card(manager, "Acme")
    assert "🗑 Erase" not in manager.last.button_labels()
    await open_card(head, "Acme")
    assert "🗑 Erase" not in head.last.button_labels()

    for person in (manager, head):
        for confirm in (False, True):
            reply = await person.press_forged(EraseCb(client_id=client_id, confirm=confirm).pack())
            assert reply.callback_answer["text"] == "You don't have access to this."
    client = await db.scalar(select(Client).where(Client.id == client_id))
    assert client.name == "Acme" and client.erased_at is None
    assert await db.all(select(AuditEntry).where(AuditEntry.action == "client_erased")) == []
