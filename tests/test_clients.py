"""Clients: creating one in a few taps, duplicates, a shared phone contact, editing from the
card, reassignment, and nobody seeing somebody else's clients."""

from __future__ import annotations

from sqlalchemy import insert, select

from bot.keyboards.callbacks import ClientAction, ClientCb
from bot.services import parsing
from db.models import AuditEntry, Client, ClientStatus, ContactPerson, ReferenceItem, ReferenceKind
from tests.stories import add_department, admin_joins, colleague_joins, user_row

VALID_INN = "7707083893"  # a real company's INN with a valid check digit


async def team(fake, *, language: str = "en"):
    """An admin, two departments, a manager in each."""
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    await add_department(admin, "East")
    petr = await colleague_joins(fake, admin, 2002, "Petr", language=language)
    anna = await colleague_joins(fake, admin, 2003, "Anna", department="East")
    return admin, petr, anna


async def insert_client(db, owner_telegram_id: int, name: str, **fields) -> int:
    owner = await user_row(db, owner_telegram_id)
    await db.execute(
        insert(Client).values(
            name=name,
            name_key=parsing.normalize_name(name),
            search_text=parsing.search_key(name),
            kind=fields.pop("kind", "company"),
            owner_id=owner.id,
            **fields,
        )
    )
    return await db.scalar(select(Client.id).where(Client.name == name))


async def test_manager_adds_a_client_skipping_what_they_dont_know(fake, bot, db):
    _admin, petr, _anna = await team(fake)
    await db.execute(insert(ReferenceItem).values(kind=ReferenceKind.INDUSTRY, name="Retail"))

    await petr.tap("👤 Clients")
    await petr.press("➕ New client")
    await petr.send("ООО «Ромашка»")
    await petr.press("company")
    reply = await petr.send("8 (912) 345-67-89")
    assert "E-mail?" in reply.text
    await petr.press("Skip ➡️")  # e-mail
    await petr.send(VALID_INN)
    await petr.press("Skip ➡️")  # address
    await petr.press("Retail")
    reply = await petr.press("Skip ➡️")  # notes (no regions or lead sources kept yet)
    assert "New client" in reply.last.text and "+79123456789" in reply.last.text
    reply = await petr.press("💾 Save")

    assert "Client saved" in reply.text
    card = reply.messages[-1]
    assert "ООО «Ромашка»" in card.text and "Owner: Petr" in card.text
    assert fake.calls_of("sendMessage")[-1].params.get("protect_content") is True
    client = await db.scalar(select(Client))
    assert (client.phone, client.phone_digits, client.inn) == (
        "+79123456789",
        "79123456789",
        VALID_INN,
    )
    assert client.name_key == "ромашка" and client.status is ClientStatus.LEAD
    assert client.industry.name == "Retail" and client.owner.full_name == "Petr"


async def test_bad_phone_email_and_inn_get_the_question_again(fake, bot, db):
    _admin, petr, _anna = await team(fake)
    await petr.tap("👤 Clients")
    await petr.press("➕ New client")
    await petr.send("Acme")
    await petr.press("person")

    reply = await petr.send("call me maybe")
    assert "phone number" in reply.text and reply.last.text.startswith("Phone number?")
    await petr.send("+7 912 345 67 89")
    reply = await petr.send("not-an-email")
    assert reply.last.text == "E-mail?"
    await petr.send("Info@Acme.RU")
    reply = await petr.send("1234567890")
    assert "INN is not valid" in reply.text and reply.last.text.startswith("INN")
    reply = await petr.send_sticker()
    assert "Please answer with a text message." in reply.text
    await petr.send(VALID_INN)
    await petr.press("Skip ➡️")
    await petr.press("Skip ➡️")
    await petr.press("💾 Save")

    client = await db.scalar(select(Client))
    assert (client.name, client.phone, client.email) == ("Acme", "+79123456789", "info@acme.ru")


async def test_a_duplicate_shows_the_existing_client_or_who_handles_it(fake, bot, db):
    _admin, petr, anna = await team(fake)
    await insert_client(db, petr.id, "Ромашка", phone="+79123456789", phone_digits="79123456789")
    await insert_client(db, anna.id, "Berezka LLC", inn=VALID_INN)

    await petr.tap("👤 Clients")
    await petr.press("➕ New client")
    reply = await petr.send("ромашка")  # same name, other case
    assert "already in the base" in reply.text and "Owner: Petr" in reply.last.text

    await petr.tap("👤 Clients")
    await petr.press("➕ New client")
    await petr.send("Березка")
    await petr.press("company")
    await petr.press("Skip ➡️")
    await petr.press("Skip ➡️")
    reply = await petr.send(VALID_INN)
    assert "Anna handles it" in reply.text
    assert "Berezka" not in reply.text  # nothing about the client itself leaks
    assert await db.scalar(select(Client).where(Client.name == "Березка")) is None


async def test_a_shared_phone_contact_becomes_a_client_or_a_contact_person(fake, bot, db):
    _admin, petr, _anna = await team(fake)
    reply = await petr.share_contact("+7 912 000-11-22", "Ivan", "Sidorov")
    assert "Ivan Sidorov" in reply.text
    await petr.press("➕ New client “Ivan Sidorov”")
    reply = await petr.press("person")  # the phone is known: it goes on to the e-mail
    assert reply.last.text == "E-mail?"
    for _ in range(4):
        await petr.press("Skip ➡️")
    await petr.press("💾 Save")
    client = await db.scalar(select(Client))
    assert (client.name, client.phone) == ("Ivan Sidorov", "+79120001122")

    await petr.share_contact("89123334455", "Maria")
    await petr.press("👤 Ivan Sidorov")
    reply = await petr.send("chief accountant")
    assert "Contact person added" in reply.text
    assert "Maria (chief accountant, +79123334455)" in reply.last.text
    person = await db.scalar(select(ContactPerson))
    assert (person.name, person.client_id) == ("Maria", client.id)


async def test_editing_fields_from_the_card(fake, bot, db):
    _admin, petr, _anna = await team(fake)
    client_id = await insert_client(db, petr.id, "Acme")
    await petr.press_forged(ClientCb(action=ClientAction.OPEN, client_id=client_id).pack())
    # opening by forged data works for one's own client: the card is edited into the message
    await petr.tap("👤 Clients")

    reply = await petr.press_forged(
        ClientCb(action=ClientAction.EDIT, client_id=client_id).pack(), message=petr.last
    )
    await petr.press("Status")
    reply = await petr.press("active client")
    assert "active client" in reply.text
    await petr.press("✏️ Edit")
    await petr.press("E-mail")
    reply = await petr.send("bad@")
    assert "Send the new value." in reply.last.text
    reply = await petr.send("sales@acme.com")
    assert "sales@acme.com" in reply.last.text
    client = await db.scalar(select(Client))
    assert (client.status, client.email) == (ClientStatus.ACTIVE, "sales@acme.com")


async def test_nobody_reaches_another_managers_client(fake, bot, db):
    admin, petr, anna = await team(fake)
    secret = await insert_client(db, anna.id, "Secret Corp", notes="big discount")
    await petr.tap("👤 Clients")

    for action in (ClientAction.OPEN, ClientAction.HISTORY, ClientAction.EDIT, ClientAction.FILES):
        reply = await petr.press_forged(ClientCb(action=action, client_id=secret).pack())
        assert "Secret" not in reply.text and "discount" not in reply.text
        assert "Not found" in (reply.callback_answer or {}).get("text", "")
    reply = await petr.press_forged(
        ClientCb(action=ClientAction.SET, client_id=secret, value="status.inactive").pack()
    )
    assert (await db.scalar(select(Client))).status is ClientStatus.LEAD

    # the admin sees it and can hand it over; the move is audited
    await admin.tap("👤 Clients")
    await admin.press_forged(ClientCb(action=ClientAction.REASSIGN, client_id=secret).pack())
    reply = await admin.press("Petr")
    assert "Owner: Petr" in reply.text
    assert await db.scalar(select(AuditEntry.action).where(AuditEntry.object_type == "client"))
    await petr.press_forged(ClientCb(action=ClientAction.OPEN, client_id=secret).pack())
    assert "Secret Corp" in petr.last.text


async def test_contact_persons_typed_from_the_card_and_the_clients_place(fake, bot, db):
    _admin, petr, _anna = await team(fake)
    client_id = await insert_client(db, petr.id, "Acme")
    await petr.tap("👤 Clients")
    await petr.press_forged(ClientCb(action=ClientAction.OPEN, client_id=client_id).pack())

    reply = await petr.press("👥 Contacts")
    assert "None yet" in reply.text
    await petr.press("➕ Add contact person")
    await petr.send("Olga Petrova")
    await petr.send("buyer")
    await petr.press("Skip ➡️")  # phone
    await petr.send("olga@acme.com")
    reply = await petr.send("@1x")
    assert "Telegram username is 5–32 letters" in reply.text
    reply = await petr.send("@olga_buyer")
    assert "Contact person added" in reply.text
    person = await db.scalar(select(ContactPerson))
    assert (person.position, person.phone, person.email, person.telegram_username) == (
        "buyer",
        None,
        "olga@acme.com",
        "olga_buyer",
    )

    await petr.press("📍 Set location", message=reply.last)
    reply = await petr.share_location(55.7558, 37.6173)
    assert "Location saved" in reply.text
    client = await db.scalar(select(Client))
    assert (client.latitude, client.longitude) == (55.7558, 37.6173)
