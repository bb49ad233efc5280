"""Finding clients: 🔎 Search, 📋 My clients with filters, and @bot inline queries — and that
nobody finds a client they may not see."""

from __future__ import annotations

from datetime import timedelta

from aiogram import Dispatcher
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineQuery, InlineQueryResultArticle, InputTextMessageContent
from sqlalchemy import select, update

from bot.keyboards.admin import InlineSwitchCb
from bot.keyboards.callbacks import ListCb, PickCb, SearchCb
from bot.services import parsing
from db.models import (
    AppSetting,
    AuditEntry,
    Client,
    ClientKind,
    ClientStatus,
    ReferenceItem,
    ReferenceKind,
    User,
)
from db.types import utcnow
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, FakeUser, SentMessage
from tests.stories import add_department, admin_joins, colleague_joins, user_row

ANNA, BORIS, NINA = 2001, 2002, 3001


async def team(fake: FakeTelegram) -> tuple[FakeUser, FakeUser, FakeUser, FakeUser]:
    """An admin; Anna (manager, Sales), Boris (manager, Service), Nina (head of Sales)."""
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    await add_department(admin, "Service", "service")
    anna = await colleague_joins(fake, admin, ANNA, "Anna", department="Sales")
    boris = await colleague_joins(fake, admin, BORIS, "Boris", department="Service")
    nina = await colleague_joins(
        fake, admin, NINA, "Nina", role="head of department", department="Sales"
    )
    return admin, anna, boris, nina


async def add_client(
    db: Db,
    owner: FakeUser,
    name: str,
    *,
    phone: str | None = None,
    email: str | None = None,
    inn: str | None = None,
    notes: str | None = None,
    status: ClientStatus = ClientStatus.LEAD,
    industry: int | None = None,
    region: int | None = None,
    contact_days_ago: int | None = None,
    created_days_ago: int = 0,
) -> int:
    """A client row as the creation flow would save it (the search columns built the same way)."""
    row = await user_row(db, owner.id)
    assert row is not None
    now = utcnow()
    client = Client(
        name=name,
        name_key=parsing.normalize_name(name),
        search_text=parsing.search_key(name),
        kind=ClientKind.COMPANY,
        status=status,
        owner_id=row.id,
        phone=phone,
        phone_digits=parsing.phone_digits(phone) if phone else None,
        email=email,
        inn=inn,
        notes=notes,
        industry_id=industry,
        region_id=region,
        last_contact_at=None
        if contact_days_ago is None
        else now - timedelta(days=contact_days_ago),
        created_at=now - timedelta(days=created_days_ago),
    )
    async with db.session_factory() as session:
        session.add(client)
        await session.commit()
        return client.id


async def add_item(db: Db, kind: ReferenceKind, name: str) -> int:
    item = ReferenceItem(kind=kind, name=name)
    async with db.session_factory() as session:
        session.add(item)
        await session.commit()
        return item.id


def clients_in(message: SentMessage) -> list[str]:
    """Labels of the client buttons of a list or of search results, top to bottom."""
    return [
        button["text"]
        for row in message.inline_buttons()
        for button in row
        if str(button.get("callback_data", "")).startswith(PickCb.__prefix__ + ":")
    ]


async def open_search(user: FakeUser) -> None:
    await user.tap("👤 Clients")
    reply = await user.press("🔎 Search")
    assert reply.last.text == "🔎 Send part of a name, phone, INN or e-mail."


async def open_list(user: FakeUser) -> SentMessage:
    await user.tap("👤 Clients")
    return (await user.press("📋 My clients")).last


# 🔎 Search


async def test_search_is_case_blind_in_cyrillic_and_latin_and_reads_yo_as_e(fake, bot, db):
    _, anna, _, _ = await team(fake)
    await add_client(db, anna, "ООО «Ромашка»")
    await add_client(db, anna, "Ёлка")
    await add_client(db, anna, "ACME Trading")
    await open_search(anna)

    for query in ("ромашка", "РОМАШКА", "Ромашка", "ромаш"):
        reply = await anna.send(query)
        assert clients_in(reply.last) == ["🏢 ООО «Ромашка»"], query
        assert "1 found" in reply.last.text
    for query in ("елка", "Ёлка", "ЁЛКА", "ЕЛКА"):
        assert clients_in((await anna.send(query)).last) == ["🏢 Ёлка"], query
    for query in ("acme", "TRADING", "Acme tr"):
        assert clients_in((await anna.send(query)).last) == ["🏢 ACME Trading"], query


async def test_search_by_phone_digits_and_inn_prefix(fake, bot, db):
    _, anna, _, _ = await team(fake)
    await add_client(db, anna, "Vega", phone="+79123456789")
    await add_client(db, anna, "Orion", inn="7707083893")
    await open_search(anna)

    for query in ("912 345", "+7 912 345-67-89", "345-67-89", "79123"):
        assert clients_in((await anna.send(query)).last) == ["🏢 Vega"], query
    for query in ("770708", "7707083893"):
        assert clients_in((await anna.send(query)).last) == ["🏢 Orion"], query
    reply = await anna.send("083893")  # the INN matches by its beginning only
    assert "Nothing found" in reply.text


async def test_search_by_part_of_the_email(fake, bot, db):
    _, anna, _, _ = await team(fake)
    await add_client(db, anna, "Polaris", email="sales@northstar.io")
    await open_search(anna)

    for query in ("sales@northstar", "northstar.io", "SALES@NORTHSTAR.IO"):
        assert clients_in((await anna.send(query)).last) == ["🏢 Polaris"], query


async def test_nothing_found_or_too_short_asks_again(fake, bot, db):
    _, anna, _, _ = await team(fake)
    await add_client(db, anna, "Vega")
    await open_search(anna)

    reply = await anna.send("<b>Zeta</b>")
    assert "Nothing found for “&lt;b&gt;Zeta&lt;/b&gt;”." in reply.messages[0].html
    assert reply.last.text == "🔎 Send part of a name, phone, INN or e-mail."

    reply = await anna.send("v")
    assert "Send at least two letters or three digits to search." in reply.text
    assert reply.last.text == "🔎 Send part of a name, phone, INN or e-mail."

    reply = await anna.send_sticker()
    assert "Please answer with a text message." in reply.text

    assert clients_in((await anna.send("ve")).last) == ["🏢 Vega"]


async def test_results_page_with_arrows_and_open_the_card(fake, bot, db):
    _, anna, _, _ = await team(fake)
    for number in range(1, 11):
        await add_client(db, anna, f"Alpha {number:02}", phone=f"+7912000000{number - 1}")
    await open_search(anna)

    reply = await anna.send("alpha")
    results = reply.last
    assert "“alpha”: 10 found." in results.text
    assert clients_in(results) == [f"🏢 Alpha {n:02}" for n in range(1, 9)]
    assert "1/2" in results.button_labels()

    reply = await anna.press("▶")
    assert clients_in(reply.last) == ["🏢 Alpha 09", "🏢 Alpha 10"]
    assert reply.last.message_id == results.message_id  # the same message, edited
    reply = await anna.press("◀")
    assert len(clients_in(reply.last)) == 8

    reply = await anna.press("🏢 Alpha 03")
    card = reply.messages[-1]
    assert "Alpha 03" in card.text and "Owner: Anna" in card.text
    assert "+79120000002" in card.text
    assert clients_in(anna.fake.sent_to(anna.id)[-2])  # the results stay to pick the next one

    await anna.send("alpha 1")  # a new search: the old results' arrows are stale
    reply = await anna.press("▶", message=results)
    assert reply.callback_answer and reply.callback_answer["text"] == (
        "This button is no longer active."
    )
    await anna.press("✖ Cancel")
    reply = await anna.press_forged(SearchCb(page=1).pack(), message=results)
    assert reply.callback_answer["text"] == "This button is no longer active."
    assert not reply.edits


async def test_search_shows_only_the_clients_the_user_may_see(fake, bot, db):
    admin, anna, boris, nina = await team(fake)
    await add_client(db, anna, "Ромашка Анны")
    await add_client(db, boris, "Ромашка Бориса")
    await add_client(db, nina, "Ромашка Нины")

    async def found(user: FakeUser) -> set[str]:
        await open_search(user)
        return set(clients_in((await user.send("ромашка")).last))

    assert await found(anna) == {"🏢 Ромашка Анны"}
    assert await found(boris) == {"🏢 Ромашка Бориса"}
    assert await found(nina) == {"🏢 Ромашка Анны", "🏢 Ромашка Нины"}
    assert await found(admin) == {"🏢 Ромашка Анны", "🏢 Ромашка Бориса", "🏢 Ромашка Нины"}


# 📋 My clients


async def test_my_clients_newest_contact_first_with_stale_marks_and_filters(fake, bot, db):
    _, anna, boris, _ = await team(fake)
    retail = await add_item(db, ReferenceKind.INDUSTRY, "Retail")
    await add_item(db, ReferenceKind.INDUSTRY, "Construction")
    moscow = await add_item(db, ReferenceKind.REGION, "Moscow")
    await add_item(db, ReferenceKind.REGION, "Kazan")
    await add_client(db, anna, "Bravo", contact_days_ago=40, industry=retail, region=moscow)
    await add_client(db, anna, "Alfa", status=ClientStatus.ACTIVE, contact_days_ago=1)
    await add_client(db, anna, "Delta", created_days_ago=60, status=ClientStatus.INACTIVE)
    await add_client(db, anna, "Charlie", industry=retail)
    await add_client(db, boris, "Boris's Bravo", contact_days_ago=2, industry=retail)

    listing = await open_list(anna)
    assert clients_in(listing) == ["🏢 Alfa", "⏳ 🏢 Bravo", "🏢 Charlie", "⏳ 🏢 Delta"]
    assert "My clients</b>: 4" in listing.html
    assert "Filters: none" in listing.text and "⏳ no contact for 30+ days" in listing.text

    reply = await anna.press("lead")
    assert clients_in(reply.last) == ["⏳ 🏢 Bravo", "🏢 Charlie"]
    assert "Filters: lead" in reply.last.text and "My clients: 2" in reply.last.text
    assert "✓ lead" in reply.last.button_labels()

    reply = await anna.press("🏭 Industry")
    assert reply.last.text == "Filter by industry:"
    assert reply.last.button_labels() == ["Construction", "Retail", "✓ Any", "← Back"]
    reply = await anna.press("Retail")
    assert "Filters: lead · Retail" in reply.last.text
    assert "🏭 Retail" in reply.last.button_labels()

    reply = await anna.press("⏳ No contact 30+ days")
    assert clients_in(reply.last) == ["⏳ 🏢 Bravo"]
    assert "Filters: lead · Retail · no contact 30+ days" in reply.last.text

    reply = await anna.press("🗺 Region")
    reply = await anna.press("← Back")  # the filters stay as they were
    assert "Filters: lead · Retail · no contact 30+ days" in reply.last.text
    await anna.press("🗺 Region")
    reply = await anna.press("Kazan")
    assert clients_in(reply.last) == [] and "No clients match these filters." in reply.last.text

    await anna.press("🏭 Retail")
    await anna.press("Any")
    await anna.press("🗺 Kazan")
    await anna.press("Any")
    await anna.press("✓ ⏳ No contact 30+ days")
    reply = await anna.press("All")
    assert "Filters: none" in reply.last.text and len(clients_in(reply.last)) == 4
    assert reply.last.message_id == listing.message_id  # all in one message

    reply = await anna.press("🏢 Charlie")
    assert "Charlie" in reply.messages[-1].text and "Owner: Anna" in reply.messages[-1].text


async def test_my_clients_pages_and_scope_by_role(fake, bot, db):
    admin, anna, boris, nina = await team(fake)
    for number in range(1, 11):
        await add_client(db, anna, f"Anna {number:02}", contact_days_ago=number)
    await add_client(db, boris, "Boris 01", contact_days_ago=1)
    await add_client(db, nina, "Nina 01")

    listing = await open_list(anna)
    assert "My clients</b>: 10" in listing.html
    assert clients_in(listing) == [f"🏢 Anna {n:02}" for n in range(1, 9)]
    reply = await anna.press("▶")
    assert clients_in(reply.last) == ["🏢 Anna 09", "🏢 Anna 10"]

    listing = await open_list(boris)
    assert clients_in(listing) == ["🏢 Boris 01"] and "My clients</b>: 1" in listing.html

    listing = await open_list(nina)
    assert "Department clients</b>: 11" in listing.html
    await nina.press("▶")
    assert clients_in(nina.last) == ["🏢 Anna 09", "🏢 Anna 10", "🏢 Nina 01"]

    listing = await open_list(admin)
    assert "All clients</b>: 12" in listing.html


async def test_forged_buttons_show_nothing_that_is_not_yours(fake, bot, db):
    _, anna, boris, _ = await team(fake)
    retail = await add_item(db, ReferenceKind.INDUSTRY, "Retail")
    moscow = await add_item(db, ReferenceKind.REGION, "Moscow")
    await add_client(db, anna, "Anna's client", industry=retail)
    secret = await add_client(db, boris, "Boris's secret", industry=retail, region=moscow)
    listing = await open_list(anna)

    reply = await anna.press_forged(PickCb(client_id=secret).pack(), message=listing)
    assert reply.callback_answer["text"].startswith("Not found")
    assert not reply.messages and "secret" not in reply.text

    reply = await anna.press_forged(ListCb(industry=retail).pack(), message=listing)
    assert clients_in(reply.last) == ["🏢 Anna's client"]
    reply = await anna.press_forged(ListCb(region=moscow).pack(), message=listing)
    assert clients_in(reply.last) == [] and "My clients</b>: 0" in reply.last.html

    # Ids of another kind of item, unknown statuses and pages far away are ignored.
    forged = ListCb(page=10**9, status="all'; drop", industry=moscow, region=retail, stale=False)
    reply = await anna.press_forged(forged.pack(), message=listing)
    assert "Filters: none" in reply.last.text
    assert clients_in(reply.last) == ["🏢 Anna's client"]
    reply = await anna.press_forged(ListCb(page=-5, industry=-(10**6)).pack(), message=listing)
    assert reply.last.text == "Filter by industry:"
    assert not reply.errors

    reply = await anna.press_forged(SearchCb(page=3).pack(), message=listing)
    assert reply.callback_answer["text"] == "This button is no longer active."


# Inline mode


async def test_inline_query_offers_only_your_own_clients_to_share(fake, bot, db):
    admin, anna, boris, nina = await team(fake)
    await add_client(
        db,
        anna,
        "ООО «Ромашка» & Co",
        phone="+79123456789",
        email="info@romashka.ru",
        notes="Owes us money; do not tell",
        contact_days_ago=1,
    )
    await add_client(db, anna, "Vega", email="hello@vega.io")
    await add_client(db, boris, "Ромашка Бориса", phone="+79120000000")
    await add_client(db, nina, "Ромашка Нины")

    answer = await anna.inline_query("ромашка")
    assert answer.titles == ["🏢 ООО «Ромашка» & Co"]
    assert answer.is_personal and answer.cache_time <= 10
    assert answer.results[0]["description"] == "+79123456789 · lead"
    assert answer.texts() == ["ООО «Ромашка» & Co\n📞 +79123456789\n✉️ info@romashka.ru"]
    assert "Owes" not in str(answer.results)
    assert not answer.reply.messages  # nothing is written to Anna's chat with the bot

    answer = await anna.inline_query("912 345")
    assert answer.titles == ["🏢 ООО «Ромашка» & Co"]
    answer = await anna.inline_query("")  # recent own clients, last contacted first
    assert answer.titles == ["🏢 ООО «Ромашка» & Co", "🏢 Vega"]
    assert answer.results[1]["description"] == "hello@vega.io · lead"

    # Heads and admins see more in the bot, but share only their own clients.
    assert (await nina.inline_query("ромашка")).titles == ["🏢 Ромашка Нины"]
    assert (await admin.inline_query("ромашка")).titles == []
    assert (await boris.inline_query("")).titles == ["🏢 Ромашка Бориса"]


async def test_inline_query_pages_through_many_clients(fake, bot, db):
    _, anna, _, _ = await team(fake)
    for number in range(1, 26):
        await add_client(db, anna, f"Client {number:02}", contact_days_ago=number)

    first = await anna.inline_query("client")
    assert len(first.results) == 20 and first.next_offset == "20"
    rest = await anna.inline_query("client", offset=first.next_offset)
    assert rest.titles == [f"🏢 Client {n:02}" for n in range(21, 26)]
    assert rest.next_offset == ""


async def test_strangers_and_deactivated_users_get_no_inline_results(fake, bot, db):
    _, anna, _, _ = await team(fake)
    await add_client(db, anna, "Vega")

    stranger = fake.user(5005, "Eve", language_code="en")
    answer = await stranger.inline_query("vega")
    assert answer.results == [] and answer.is_personal and answer.cache_time == 0
    assert not fake.sent_to(stranger.id)  # an inline query is not a chat: nothing to answer in

    await db.execute(update(User).where(User.telegram_id == ANNA).values(is_active=False))
    answer = await anna.inline_query("vega")
    assert answer.results == [] and answer.cache_time == 0


async def test_admin_turns_inline_search_off_for_managers(fake, bot, db):
    admin, anna, _, nina = await team(fake)
    await add_client(db, anna, "Vega")
    await add_client(db, nina, "Nina's Vega")

    await admin.tap("🛠 Admin")
    reply = await admin.press("📲 Inline search")
    assert "Inline search for managers: on." in reply.last.text
    reply = await admin.press("Turn off for managers")
    assert reply.callback_answer["text"] == "Saved."
    assert "Inline search for managers: off." in reply.last.text

    assert (await anna.inline_query("vega")).results == []
    assert (await nina.inline_query("vega")).titles == ["🏢 Nina's Vega"]  # heads keep it
    assert (await db.scalar(select(AppSetting.value))) == "0"
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "setting_changed"))
    assert entry.details == {"key": "inline_for_managers", "old": True, "new": False}

    # A manager cannot flip the switch with forged data.
    reply = await anna.press_forged(InlineSwitchCb(value="on").pack(), message=anna.last)
    assert reply.callback_answer["text"] == "You don't have access to this."
    assert (await anna.inline_query("vega")).results == []

    await admin.press("Turn on for managers")
    assert (await anna.inline_query("vega")).titles == ["🏢 Vega"]
    reply = await admin.press("← Back")
    assert "📲 Inline search" in reply.last.button_labels()


async def test_fake_telegram_refuses_inline_answers_that_telegram_refuses(fake):
    """The fake's answerInlineQuery checks what Telegram checks, so the bot's answers are real."""

    def article(result_id: str, text: str = "ok") -> InlineQueryResultArticle:
        return InlineQueryResultArticle(
            id=result_id,
            title="t",
            input_message_content=InputTextMessageContent(message_text=text),
        )

    cases = {
        "many": [article(str(n)) for n in range(51)],
        "long-id": [article("x" * 65)],
        "twice": [article("a"), article("a")],
        "long-text": [article("a", "x" * 4097)],
        "bad-html": [article("a", "<b>unclosed")],
        "fine": [article("é" * 32, "<b>x</b>" + "x" * 4000)],  # 64 bytes, 4001 characters
    }
    refused: dict[str, str] = {}
    dispatcher = Dispatcher()

    @dispatcher.inline_query()
    async def answer(query: InlineQuery) -> None:
        try:
            await query.answer(cases[query.query])
        except TelegramBadRequest as error:
            refused[query.query] = error.message
            await query.answer([])

    bot = fake.make_bot()
    async with fake.polling(dispatcher, bot):
        user = fake.user(6006, "Tess", language_code="en")
        for name in cases:
            await user.inline_query(name)
    assert refused.pop("bad-html").startswith("Bad Request: can't parse entities")
    assert refused == {
        "many": "Bad Request: RESULTS_TOO_MUCH",
        "long-id": "Bad Request: RESULT_ID_INVALID",
        "twice": "Bad Request: RESULT_ID_DUPLICATE",
        "long-text": "Bad Request: MESSAGE_TOO_LONG",
    }
