"""Client surveys: a manager gives a client their personal link, the client agrees in one tap,
questions come after a won deal, a resolved complaint or periodically, a low score reaches the
manager and the head at once with a follow-up task, and a client who opts out gets nothing.
Time is the injected clock's."""

from __future__ import annotations

import asyncio
import re
import struct
from datetime import timedelta

from sqlalchemy import insert, select, update

from bot.keyboards.callbacks import ConsentCb, SurveyCb
from bot.services import complaints
from bot.services.complaints import ComplaintDraft
from db.models import (
    ClientChat,
    ClientLink,
    ComplaintSeverity,
    ContactPerson,
    Survey,
    SurveyKind,
    SurveyStatus,
    SurveyTrigger,
    Task,
    User,
)
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.stories import colleague_joins
from tests.test_client_search import open_search
from tests.test_contact_log import add_client, managers_join, up_to_the_review
from tests.test_deals import new_deal

LINK = re.compile(r"https://t\.me/\w+\?start=(c_[A-Za-z0-9_-]+)")
NPS_QUESTION = "How likely are you to recommend us"
THANKS_CLOSED = "Thank you! This question is already closed."


# Helpers


async def team(fake: FakeTelegram):
    """A manager and their head in Sales; the admin is ADMIN_ID."""
    (manager,) = await managers_join(fake, 2001)
    admin = fake.user(1001)
    head = await colleague_joins(fake, admin, 2100, "Helen Head", role="head of department")
    return manager, head


async def open_card(user: FakeUser, name: str) -> None:
    await open_search(user)
    await user.send(name)
    await user.press(f"🏢 {name}")


async def survey_link(manager: FakeUser, client_name: str) -> str:
    """Client card → 🔗 Survey link: the link and its QR code come as one photo."""
    await open_card(manager, client_name)
    reply = await manager.press("🔗 Survey link")
    photo = reply.last
    assert photo.kind == "photo"
    assert manager.fake.calls_of("sendPhoto")[-1].params.get("protect_content") in (True, "true")
    width, height = png_size(photo.file_bytes)
    assert width == height >= 300  # a square code big enough to scan from a phone screen
    match = LINK.search(photo.caption or "")
    assert match, photo.caption
    return match.group(1)


def png_size(data: bytes | None) -> tuple[int, int]:
    assert data is not None and data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


async def client_agrees(fake: FakeTelegram, token: str, telegram_id=5001, language="en"):
    client = fake.user(telegram_id, "Ivan", last_name="Client", language_code=language)
    reply = await client.command("start", token)
    assert "short question about our service" in reply.text or "короткий вопрос" in reply.text
    agree = "✅ I agree" if language == "en" else "✅ Согласен"
    reply = await client.press(agree)
    return client, reply


async def surveys_of(db: Db) -> list[Survey]:
    return await db.all(select(Survey).order_by(Survey.id))


async def win_a_deal(manager: FakeUser, client_name: str) -> None:
    await new_deal(manager, client_name)
    await manager.press("🏆 Won")
    await manager.press("✅ 150,000\u00a0₽")


# The whole loop


async def test_link_consent_won_deal_low_score_alerts_follow_up_and_opt_out(fake, bot, db):
    manager, head = await team(fake)
    client_id = await add_client(db, manager, "Acme")
    token = await survey_link(manager, "Acme")
    assert len(token) <= 64

    client, reply = await client_agrees(fake, token)
    assert "You're linked with FieldCRM" in reply.text
    chat = await db.scalar(select(ClientChat))
    assert (chat.client_id, chat.telegram_id, chat.locale) == (client_id, client.id, "en")
    assert chat.consented_at is not None
    assert client.reply_keyboard is None  # a client never sees the staff menu

    await win_a_deal(manager, "Acme")
    await bot.sweep()
    (survey,) = await surveys_of(db)
    assert (survey.kind, survey.trigger, survey.status) == (
        SurveyKind.NPS,
        SurveyTrigger.DEAL_WON,
        SurveyStatus.SCHEDULED,
    )
    assert not [m for m in client.messages if NPS_QUESTION in m.text]  # a day later, not now

    bot.clock.advance(hours=24, minutes=1)
    await bot.sweep()
    question = client.last
    assert NPS_QUESTION in question.text
    assert question.button_labels() == [str(n) for n in range(11)]

    reply = await client.press("4", message=question)
    assert "Your answer: 4 (of 0–10)" in reply.edits[-1].text
    assert "add a few words" in reply.last.text
    await client.send("Delivery was two weeks late")
    assert client.last.text == "Thank you for your answer! 🙏"

    survey = (await surveys_of(db))[0]
    assert (survey.status, survey.score, survey.comment) == (
        SurveyStatus.ANSWERED,
        4,
        "Delivery was two weeks late",
    )
    task = await db.scalar(select(Task).where(Task.client_id == client_id))
    assert task is not None and task.due_at <= bot.clock.now() + timedelta(hours=24)

    await bot.sweep()
    for person in (manager, head):
        texts = [m.content for m in person.messages]
        alert = next(t for t in texts if "Low score" in t)
        assert "Acme gave NPS 4 (after the won deal #1)" in alert
        assert any("Delivery was two weeks late" in t for t in texts)
    assert "👤 Open client" in manager.last.button_labels()

    # The manager calls the client and logs it: the loop is closed.
    await up_to_the_review(manager, "Acme", "Called, apologized, sent a discount")
    await manager.press("💾 Save")
    survey = (await surveys_of(db))[0]
    assert survey.loop_closed_at is not None

    # The client opts out; a manager's request is refused and nothing more is sent.
    reply = await client.command("stop")
    assert "won't ask you anything more" in reply.text
    sent_before = len(client.messages)
    await open_card(manager, "Acme")
    reply = await manager.press("📣 Ask for feedback")
    assert "opted out" in reply.callback_answer["text"]
    bot.clock.advance(days=200)
    await bot.sweep()
    assert len(client.messages) == sent_before

    # /start again opts back in.
    reply = await client.command("start")
    assert "Welcome back" in reply.text
    assert (await db.scalar(select(ClientChat))).opted_out_at is None


async def test_a_russian_client_is_asked_in_russian_and_a_promoter_is_flagged(fake, bot, db):
    manager, _head = await team(fake)
    await add_client(db, manager, "Acme")
    token = await survey_link(manager, "Acme")
    client, reply = await client_agrees(fake, token, language="ru")
    assert "Спасибо" in reply.text
    await open_card(manager, "Acme")
    reply = await manager.press("📣 Ask for feedback")
    await bot.sweep()
    assert "Насколько вероятно" in client.last.text
    reply = await client.press("10")
    assert "Ваш ответ: 10" in reply.edits[-1].text
    await client.press("Пропустить ➡️")
    await bot.sweep()
    assert any("good moment to ask for a referral" in m.content for m in manager.messages)


# Abuse and bad input


async def test_links_that_do_not_work_and_staff_who_open_one(fake, bot, db):
    manager, head = await team(fake)
    await add_client(db, manager, "Acme")
    stranger = fake.user(5009, "Stranger", language_code="en")
    reply = await stranger.command("start", "c_nonsense")
    assert "this link doesn't work" in reply.text
    reply = await stranger.command("start", "c_" + "x" * 60)
    assert "this link doesn't work" in reply.text

    old = await survey_link(manager, "Acme")
    new = await survey_link(manager, "Acme")  # the earlier link stops working
    reply = await stranger.command("start", old)
    assert "this link doesn't work" in reply.text
    reply = await head.command("start", new)
    assert "You are staff" in reply.text
    # A forged consent with a made-up token links nobody.
    reply = await stranger.press_forged(ConsentCb(token="c_forged", agree=True).pack())
    assert await db.scalar(select(ClientChat)) is None

    client, _ = await client_agrees(fake, new)
    reply = await stranger.command("start", new)  # used: nobody else can take it
    assert "this link doesn't work" in reply.text
    reply = await client.command("start", new)
    assert "Hello again" in reply.text
    assert (await db.scalar(select(ClientLink).where(ClientLink.token == new))).used_at


async def test_revoked_link_and_declined_consent(fake, bot, db):
    manager, _ = await team(fake)
    await add_client(db, manager, "Acme")
    token = await survey_link(manager, "Acme")
    reply = await manager.press("🚫 Revoke the link")
    assert reply.callback_answer["text"] == "Revoked: the link no longer works."
    reply = await fake.user(5001, "Ivan", language_code="en").command("start", token)
    assert "this link doesn't work" in reply.text

    token = await survey_link(manager, "Acme")
    someone = fake.user(5002, "Olga", language_code="en")
    await someone.command("start", token)
    reply = await someone.press("No, thanks")
    assert "we won't ask you anything" in reply.edits[-1].text
    assert await db.scalar(select(ClientChat)) is None


async def test_taps_that_must_change_nothing(fake, bot, db):
    manager, _ = await team(fake)
    await add_client(db, manager, "Acme")
    await add_client(db, manager, "Beta")
    client, _ = await client_agrees(fake, await survey_link(manager, "Acme"))
    other, _ = await client_agrees(fake, await survey_link(manager, "Beta"), telegram_id=5002)
    await open_card(manager, "Acme")
    await manager.press("📣 Ask for feedback")
    await bot.sweep()
    question = client.last
    survey = (await surveys_of(db))[0]

    reply = await client.send("it was fine")  # text where a score is expected
    assert "Please tap a number below" in reply.text
    assert reply.last.button_labels() == [str(n) for n in range(11)]

    # Ten quick taps: one answer is stored, the rest are told the question is closed.
    replies = await asyncio.gather(*(client.press(str(n), message=question) for n in range(10)))
    answers = [r.callback_answer["text"] for r in replies]
    assert answers.count("Thank you!") == 1
    assert answers.count(THANKS_CLOSED) == 9
    stored = (await surveys_of(db))[0]
    await client.press("Skip ➡️")

    assert question.button_labels() == []  # the answered question shows the score, no buttons
    replayed = SurveyCb(survey_id=survey.id, score=9).pack()
    reply = await client.press_forged(replayed, message=question)  # an old tap replayed
    assert reply.callback_answer["text"] == THANKS_CLOSED
    reply = await other.press_forged(SurveyCb(survey_id=survey.id, score=10).pack())
    assert reply.callback_answer["text"] == THANKS_CLOSED
    reply = await client.press_forged(SurveyCb(survey_id=survey.id, score=11).pack())
    assert (await surveys_of(db))[0].score == stored.score


async def test_an_unanswered_survey_expires_and_one_question_per_fortnight(fake, bot, db):
    manager, _ = await team(fake)
    await add_client(db, manager, "Acme")
    client, _ = await client_agrees(fake, await survey_link(manager, "Acme"))
    await open_card(manager, "Acme")
    await manager.press("📣 Ask for feedback")
    await bot.sweep()
    question = client.last

    reply = await manager.press("📣 Ask for feedback")
    assert "already waiting for an answer" in reply.callback_answer["text"]

    bot.clock.advance(days=7, minutes=1)
    await bot.sweep()
    assert (await surveys_of(db))[0].status is SurveyStatus.EXPIRED
    reply = await client.press("8", message=question)
    assert reply.callback_answer["text"] == THANKS_CLOSED

    # Won a week after the last question: the NPS due a day later is skipped (14-day gap).
    await win_a_deal(manager, "Acme")
    bot.clock.advance(days=1, minutes=1)
    await bot.sweep()
    skipped = (await surveys_of(db))[-1]
    assert (skipped.trigger, skipped.status, skipped.skip_reason) == (
        SurveyTrigger.DEAL_WON,
        SurveyStatus.SKIPPED,
        "too_soon",
    )


async def test_periodic_surveys_are_spread_and_a_blocked_client_is_skipped(fake, bot, db):
    manager, _ = await team(fake)
    for name in ("Acme", "Beta"):
        await add_client(db, manager, name)
    acme, _ = await client_agrees(fake, await survey_link(manager, "Acme"))
    beta, _ = await client_agrees(fake, await survey_link(manager, "Beta"), telegram_id=5002)
    await db.execute(update(ClientChat).values(consented_at=bot.clock.now() - timedelta(days=91)))
    await bot.sweep()
    periodic = await surveys_of(db)
    assert [s.trigger for s in periodic] == [SurveyTrigger.PERIODIC] * 2
    moments = {s.scheduled_at for s in periodic}
    assert len(moments) == 2  # not the same minute

    await beta.block_bot()
    bot.clock.advance(days=2)
    await bot.sweep()
    assert any(NPS_QUESTION in m.content for m in acme.messages)
    await bot.sweep()
    chats = {c.telegram_id: c for c in await db.all(select(ClientChat))}
    assert chats[beta.id].unreachable
    await open_card(manager, "Beta")
    reply = await manager.press("📣 Ask for feedback")
    assert "hasn't linked their Telegram" in reply.callback_answer["text"]


async def test_a_resolved_complaint_asks_csat_a_day_later_and_never_nps_too(fake, bot, db):
    manager, head = await team(fake)
    client_id = await add_client(db, manager, "Acme")
    client, _ = await client_agrees(fake, await survey_link(manager, "Acme"))
    async with db.session_factory() as session:
        staff = {u.telegram_id: u for u in await session.scalars(select(User))}
        author = staff[manager.id]
        draft = ComplaintDraft(
            client_id=client_id, severity=ComplaintSeverity.HIGH, description="Leak"
        )
        complaint = await complaints.open_complaint(
            session, author, draft, bot.settings, now=bot.clock.now()
        )
        # No service department here: the complaint's owner's head resolves it.
        await complaints.resolve(
            session, staff[1001], complaint.id, 1, "Seal replaced", now=bot.clock.now()
        )
    await bot.sweep()
    (survey,) = await surveys_of(db)
    assert (survey.kind, survey.trigger, survey.complaint_id) == (
        SurveyKind.CSAT,
        SurveyTrigger.COMPLAINT_RESOLVED,
        complaint.id,
    )
    bot.clock.advance(hours=23)
    await bot.sweep()
    assert not any("How satisfied" in m.content for m in client.messages)
    bot.clock.advance(hours=1, minutes=1)
    await bot.sweep()
    question = client.last
    assert "How satisfied are you with how we handled your recent request" in question.text
    assert question.button_labels() == ["1", "2", "3", "4", "5"]
    reply = await client.press("2", message=question)
    assert "Your answer: 2 (of 1–5)" in reply.edits[-1].text
    await client.send_voice()  # a voice note as the comment
    survey = (await surveys_of(db))[0]
    assert survey.voice_file_id and survey.comment is None
    await bot.sweep()
    alert = next(m.content for m in head.messages if "Low score" in m.content)
    assert f"Acme gave CSAT 2 (after complaint #{complaint.id} was resolved)" in alert
    assert any("🎤 a voice note" in m.content for m in manager.messages)
    # The same complaint never asks again, whatever happens to it.
    await bot.sweep()
    assert len(await surveys_of(db)) == 1


async def test_a_link_for_one_of_the_clients_contact_persons(fake, bot, db):
    manager, _ = await team(fake)
    client_id = await add_client(db, manager, "Acme")
    await db.execute(insert(ContactPerson).values(client_id=client_id, name="Maria Buyer"))
    await open_card(manager, "Acme")
    reply = await manager.press("🔗 Survey link")
    assert reply.last.text == "Whom is the link for?"
    assert reply.last.button_labels() == ["🏢 Acme", "👤 Maria Buyer"]
    reply = await manager.press("👤 Maria Buyer")
    assert "Survey link for Acme · Maria Buyer" in (reply.last.caption or "")
    token = LINK.search(reply.last.caption or "").group(1)
    await client_agrees(fake, token)
    chat = await db.scalar(select(ClientChat))
    person = await db.scalar(select(ContactPerson))
    assert (chat.client_id, chat.contact_person_id) == (client_id, person.id)
