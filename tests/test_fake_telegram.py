"""Self-tests of the fake Telegram Bot API (tests/fake_telegram.py).

A real aiogram ``Bot`` + ``Dispatcher`` with a few tiny handlers talks to the fake over HTTP.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from tests.fake_telegram import TOKEN, FakeTelegram, FakeUser, LocalAiohttpSession

MENU = "📋 Menu"
SHARE_PHONE = "📞 Share phone"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


def build_dispatcher() -> Dispatcher:
    """A tiny bot: /start with a reply keyboard, a menu with inline buttons, echo, media."""
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        assert message.from_user is not None
        keyboard = ReplyKeyboardMarkup(
            keyboard=[
                [
                    KeyboardButton(text=MENU),
                    KeyboardButton(text=SHARE_PHONE, request_contact=True),
                ]
            ],
            resize_keyboard=True,
        )
        code = f" (code {html.escape(command.args)})" if command.args else ""
        name = html.escape(message.from_user.first_name)
        await message.answer(f"Welcome, <b>{name}</b>!{code}", reply_markup=keyboard)

    @router.message(F.text == MENU)
    async def menu(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(text="Confirm", callback_data="confirm"),
                    InlineKeyboardButton(text="Cancel", callback_data="cancel"),
                ],
                [InlineKeyboardButton(text="Site", url="https://example.com")],
            ]
        )
        await message.answer("Choose:", reply_markup=keyboard)

    @router.callback_query(F.data == "confirm")
    async def confirm(callback: CallbackQuery) -> None:
        assert isinstance(callback.message, Message)
        await callback.message.edit_text("Confirmed ✅")
        await callback.answer("Done")

    @router.callback_query(F.data == "cancel")
    async def cancel(callback: CallbackQuery) -> None:
        await callback.answer()

    @router.message(F.contact)
    async def contact(message: Message) -> None:
        assert message.contact is not None
        own = message.contact.user_id == message.chat.id
        await message.answer(
            f"Phone {message.contact.phone_number} own={own}", reply_markup=ReplyKeyboardRemove()
        )

    @router.message(Command("chart"))
    async def chart(message: Message) -> None:
        await message.answer_photo(BufferedInputFile(PNG, "chart.png"), caption="<b>Chart</b>")

    @router.message(Command("long"))
    async def too_long(message: Message) -> None:
        await message.answer("x" * 5000)  # rejected by "Telegram"; aiogram logs the error

    @router.message(F.photo)
    async def photo(message: Message) -> None:
        assert message.photo is not None
        await message.answer(f"photo {message.photo[-1].file_id} {message.caption}")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        assert message.text is not None
        await message.answer(html.escape(message.text))

    dp = Dispatcher()
    dp.include_router(router)
    return dp


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()
    assert not server.internal_errors


@pytest.fixture
async def tg_bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    # LocalAiohttpSession = AiohttpSession without the 250 ms pause in close() (fast tests);
    # test_polling_helper_and_undelivered_updates uses the plain AiohttpSession.
    session = LocalAiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    instance = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    yield instance
    await instance.session.close()


@pytest.fixture
async def polling(fake: FakeTelegram, tg_bot: Bot) -> AsyncIterator[Dispatcher]:
    dp = build_dispatcher()
    task = asyncio.create_task(
        dp.start_polling(tg_bot, handle_as_tasks=False, handle_signals=False, polling_timeout=1)
    )
    await fake.wait_polling()
    yield dp
    await dp.stop_polling()
    await task
    await tg_bot.session.close()


@pytest.fixture
def alice(fake: FakeTelegram) -> FakeUser:
    return fake.user(1001, "Alice", username="alice")


# ------------------------------------------------------------------------------ round trips


async def test_echo_round_trip(fake: FakeTelegram, polling: Dispatcher, alice: FakeUser) -> None:
    reply = await alice.send("Tom & Jerry <3")
    assert reply.text == "Tom & Jerry <3"
    assert reply.last.html == "Tom &amp; Jerry &lt;3"
    assert [c.method for c in reply.calls] == ["sendMessage"]
    assert alice.messages == fake.sent_to(alice.id)
    assert alice.last.text == "Tom & Jerry <3"
    assert alice.last.message_id == 2  # ids are shared by the user's and the bot's messages


async def test_command_with_payload_and_reply_keyboard(
    polling: Dispatcher, alice: FakeUser
) -> None:
    reply = await alice.command("start", "abc")
    assert reply.text == "Welcome, Alice! (code abc)"
    assert reply.last.entities == [{"offset": 9, "length": 5, "type": "bold"}]
    assert alice.reply_keyboard == [[MENU, SHARE_PHONE]]


async def test_tap_press_and_edit(polling: Dispatcher, alice: FakeUser) -> None:
    await alice.command("start")
    menu = await alice.tap(MENU)
    assert menu.last.button_labels() == ["Confirm", "Cancel", "Site"]

    reply = await alice.press("Confirm")
    assert reply.messages == []
    assert [m.text for m in reply.edits] == ["Confirmed ✅"]
    assert reply.callback_answer is not None
    assert reply.callback_answer["text"] == "Done"
    assert alice.last.edited
    assert alice.last.inline_buttons() == []  # edit_text without reply_markup drops it

    with pytest.raises(AssertionError, match="no inline callback button 'Confirm'"):
        await alice.press("Confirm")


async def test_press_a_specific_message(polling: Dispatcher, alice: FakeUser) -> None:
    await alice.command("start")
    first = (await alice.tap(MENU)).last
    await alice.tap(MENU)
    reply = await alice.press("Confirm", message=first)
    assert reply.edits[0].message_id == first.message_id
    assert alice.messages[-1].text == "Choose:"  # the newer menu is untouched


async def test_tap_and_press_list_available_buttons(polling: Dispatcher, alice: FakeUser) -> None:
    with pytest.raises(AssertionError, match="no reply keyboard"):
        await alice.tap(MENU)
    await alice.command("start")
    with pytest.raises(AssertionError, match="Share phone"):
        await alice.tap("Help")
    await alice.tap(MENU)
    with pytest.raises(AssertionError, match=r"\['Confirm', 'Cancel', 'Site'\]"):
        await alice.press("Delete")
    with pytest.raises(AssertionError, match="no inline callback button 'Site'"):
        await alice.press("Site")  # a URL button sends no callback query


async def test_request_contact_button_and_keyboard_removal(
    polling: Dispatcher, alice: FakeUser
) -> None:
    await alice.command("start")
    reply = await alice.tap(SHARE_PHONE)
    assert reply.text == f"Phone {alice.phone_number} own=True"
    assert alice.reply_keyboard is None
    reply = await alice.share_contact("+79990000000", "Bob")
    assert reply.text == "Phone +79990000000 own=False"


async def test_uploaded_photo_keeps_bytes(
    tg_bot: Bot, polling: Dispatcher, alice: FakeUser
) -> None:
    reply = await alice.command("chart")
    photo = reply.last
    assert (photo.kind, photo.caption, photo.html) == ("photo", "Chart", "<b>Chart</b>")
    assert photo.file_bytes == PNG
    assert photo.file_id is not None
    downloaded = await tg_bot.download(photo.file_id)
    assert downloaded is not None
    assert downloaded.read() == PNG
    # the file_id can be reused, an unknown one is rejected
    await tg_bot.send_photo(alice.id, photo.file_id)
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await tg_bot.send_photo(alice.id, "no-such-file-id")
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await tg_bot.send_photo(alice.id, BufferedInputFile(b"not an image", "x.png"))


async def test_user_media(polling: Dispatcher, alice: FakeUser) -> None:
    reply = await alice.send_photo("receipt")
    sent = alice.fake.updates[-1]["message"]["photo"]
    assert len({size["file_id"] for size in sent}) == 3
    assert len({size["file_unique_id"] for size in sent}) == 3
    assert reply.text == f"photo {sent[-1]['file_id']} receipt"
    for action in (alice.send_voice(), alice.send_document(), alice.send_sticker()):
        reply = await action
        assert reply.delivered
        assert reply.messages == []  # no handler for these
    reply = await alice.share_location(55.75, 37.61)
    assert reply.delivered


# -------------------------------------------------------------------------------- rejections


async def test_first_contact_and_blocked_user(fake: FakeTelegram, tg_bot: Bot) -> None:
    bob = fake.user(2002, "Bob")
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation"):
        await tg_bot.send_message(bob.id, "hi")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await tg_bot.send_message(999, "hi")

    carol = fake.user(3003, "Carol", started=True)
    await tg_bot.send_message(carol.id, "hi")
    fake.block(carol.id)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await tg_bot.send_message(carol.id, "hi")
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await tg_bot.send_chat_action(carol.id, "typing")
    fake.unblock(carol.id)
    await tg_bot.send_message(carol.id, "welcome back")
    assert [m.text for m in carol.messages] == ["hi", "welcome back"]


async def test_first_contact_is_unlocked_by_a_message(
    fake: FakeTelegram, tg_bot: Bot, polling: Dispatcher, alice: FakeUser
) -> None:
    with pytest.raises(TelegramForbiddenError):
        await tg_bot.send_message(alice.id, "hello?")
    await alice.send("hi")
    await tg_bot.send_message(alice.id, "now I may write")


async def test_text_limits(fake: FakeTelegram, tg_bot: Bot) -> None:
    user = fake.user(1, started=True)
    await tg_bot.send_message(user.id, "x" * 4096)
    await tg_bot.send_message(user.id, "<b>" + "x" * 4096 + "</b>")  # limit counts parsed text
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await tg_bot.send_message(user.id, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await tg_bot.send_message(user.id, "")
    with pytest.raises(TelegramBadRequest, match="text must be non-empty"):
        await tg_bot.send_message(user.id, "  \n ")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await tg_bot.send_photo(user.id, BufferedInputFile(PNG, "p.png"), caption="c" * 1025)


BAD_HTML = [
    ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
    ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
    ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
    ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
    ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
    ("</b>", "Unexpected end tag at byte offset 0"),
    ("Tom & Jerry", 'Unescaped "&"'),  # strict mode of the fake
]


async def test_bad_html_is_rejected(fake: FakeTelegram, tg_bot: Bot) -> None:
    user = fake.user(1, started=True)
    for text, error in BAD_HTML:
        with pytest.raises(TelegramBadRequest, match="can't parse entities") as info:
            await tg_bot.send_message(user.id, text)
        assert error in info.value.message, text
    assert user.messages == []


async def test_valid_formatting(fake: FakeTelegram, tg_bot: Bot) -> None:
    user = fake.user(1, started=True)
    text = (
        '<b>b</b> <i>i</i> <u>u</u> <s>s</s> <tg-spoiler>p</tg-spoiler> <a href="https://a.io">'
        'a</a> <code>c</code> <pre><code class="language-py">x</code></pre> &lt;&gt;&amp;&quot;'
        "<blockquote expandable>q</blockquote>"
    )
    message = await tg_bot.send_message(user.id, text)
    assert message.text == 'b i u s p a c x <>&"q'
    assert [e.type for e in message.entities or []] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "text_link",
        "code",
        "pre",
        "expandable_blockquote",
    ]
    assert user.last.html == text
    plain = await tg_bot.send_message(user.id, "<b>literal</b>", parse_mode=None)
    assert plain.text == "<b>literal</b>"
    with pytest.raises(TelegramBadRequest, match=r"Character '\.' is reserved"):
        await tg_bot.send_message(user.id, "Saved.", parse_mode="MarkdownV2")
    assert (await tg_bot.send_message(user.id, r"*Saved\.*", parse_mode="MarkdownV2")).text == (
        "Saved."
    )


async def test_reply_markup_validation(fake: FakeTelegram, tg_bot: Bot) -> None:
    user = fake.user(1, started=True)

    def inline(**button: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="b", **button)]])

    await tg_bot.send_message(user.id, "ok", reply_markup=inline(callback_data="x" * 64))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await tg_bot.send_message(user.id, "no", reply_markup=inline(callback_data="x" * 65))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await tg_bot.send_message(user.id, "no", reply_markup=inline(callback_data="я" * 33))
    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        await tg_bot.send_message(user.id, "no", reply_markup=inline())
    with pytest.raises(TelegramBadRequest, match="is invalid: Wrong HTTP URL"):
        await tg_bot.send_message(user.id, "no", reply_markup=inline(url="not-a-url"))
    empty_button = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="")]])
    with pytest.raises(TelegramBadRequest, match="text must be non-empty"):
        await tg_bot.send_message(user.id, "no", reply_markup=empty_button)
    assert len(user.messages) == 1


async def test_edit_rejections(fake: FakeTelegram, tg_bot: Bot) -> None:
    user = fake.user(1, started=True)
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]]
    )
    sent = await tg_bot.send_message(user.id, "<b>Deal</b>", reply_markup=markup)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await tg_bot.edit_message_text(
            "<b>Deal</b>", chat_id=user.id, message_id=sent.message_id, reply_markup=markup
        )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await tg_bot.edit_message_reply_markup(
            chat_id=user.id, message_id=sent.message_id, reply_markup=markup
        )
    # same text but a different formatting is a modification
    await tg_bot.edit_message_text(
        "Deal", chat_id=user.id, message_id=sent.message_id, reply_markup=markup
    )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await tg_bot.edit_message_text("x", chat_id=user.id, message_id=999)
    with pytest.raises(TelegramBadRequest, match="there is no caption in the message to edit"):
        await tg_bot.edit_message_caption(chat_id=user.id, message_id=sent.message_id, caption="c")
    await tg_bot.delete_message(user.id, sent.message_id)
    assert user.messages == []
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await tg_bot.delete_message(user.id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await tg_bot.edit_message_text("x", chat_id=user.id, message_id=sent.message_id)


async def test_callback_query_answered_twice(
    fake: FakeTelegram, tg_bot: Bot, polling: Dispatcher, alice: FakeUser
) -> None:
    await alice.command("start")
    await alice.tap(MENU)
    reply = await alice.press("Cancel")
    assert reply.callback_answer == {
        "callback_query_id": reply.callback_answer["callback_query_id"]
    }
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await tg_bot.answer_callback_query(reply.callback_answer["callback_query_id"])
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await tg_bot.answer_callback_query("12345")


async def test_flood_control_and_injected_errors(fake: FakeTelegram, tg_bot: Bot) -> None:
    user = fake.user(1, started=True)
    fake.fail_next("sendMessage", retry_after=3)
    with pytest.raises(TelegramRetryAfter) as info:
        await tg_bot.send_message(user.id, "hi")
    assert info.value.retry_after == 3
    assert "Too Many Requests: retry after 3" in info.value.message
    await tg_bot.send_message(user.id, "hi")  # only the next call fails

    fake.fail_next("editMessageText", error_code=400, description="Bad Request: boom", times=2)
    for _ in range(2):
        with pytest.raises(TelegramBadRequest, match="boom"):
            await tg_bot.edit_message_text("x", chat_id=user.id, message_id=1)
    failed = [c for c in fake.calls if not c.ok]
    assert [c.error_code for c in failed] == [429, 400, 400]


async def test_handler_errors_show_up_in_reply(polling: Dispatcher, alice: FakeUser) -> None:
    reply = await alice.command("long")
    assert reply.messages == []
    assert [(c.method, c.error) for c in reply.errors] == [
        ("sendMessage", "Bad Request: message is too long")
    ]
    with pytest.raises(AssertionError, match="sent/edited nothing"):
        _ = reply.last


# ------------------------------------------------------------------------------ plumbing


async def test_wait_for_and_commands(fake: FakeTelegram, tg_bot: Bot) -> None:
    await tg_bot.set_my_commands([BotCommand(command="start", description="Start")])
    await tg_bot.set_my_commands(
        [BotCommand(command="deals", description="Сделки")], language_code="ru"
    )
    call = await fake.wait_for(lambda c: c.method == "setMyCommands")  # already happened
    assert call.params["commands"] == [{"command": "start", "description": "Start"}]
    assert fake.commands[('{"type": "default"}', "ru")] == [
        {"command": "deals", "description": "Сделки"}
    ]
    assert [c.command for c in await tg_bot.get_my_commands()] == ["start"]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await tg_bot.set_my_commands([BotCommand(command="NewDeal", description="x")])

    user = fake.user(1, started=True)
    later = asyncio.create_task(fake.wait_for(lambda c: c.method == "sendMessage", timeout=2))
    await asyncio.sleep(0)
    await tg_bot.send_message(user.id, "hi")
    assert (await later).chat_id == user.id
    with pytest.raises(AssertionError, match=r"no matching API call within 0\.05s"):
        await fake.wait_for(lambda c: c.method == "sendVoice", timeout=0.05)


async def test_http_level_errors(fake: FakeTelegram) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{fake.base_url}/bot{TOKEN}/getMe") as response:
            assert response.status == 200
            assert (await response.json())["result"]["username"] == "fieldcrm_test_bot"
        async with session.post(f"{fake.base_url}/bot{TOKEN}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        async with session.post(f"{fake.base_url}/bot1:wrong/getMe") as response:
            assert response.status == 401
        body = {"chat_id": 1, "text": "json body"}
        fake.user(1, started=True)
        async with session.post(f"{fake.base_url}/bot{TOKEN}/sendMessage", json=body) as resp:
            assert (await resp.json())["result"]["text"] == "json body"


async def test_polling_helper_and_undelivered_updates(fake: FakeTelegram) -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))
    bot = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    async with fake.polling(build_dispatcher(), bot):
        user = fake.user(7, "Dan")
        assert (await user.send("ping")).text == "ping"
        # the dispatcher has no my_chat_member handler, so Telegram never delivers the update
        reply = await user.block_bot()
        assert not reply.delivered
        with pytest.raises(AssertionError, match="sent/edited nothing"):
            _ = reply.last
        await user.unblock_bot()
    assert bot.session._session is None or bot.session._session.closed  # type: ignore[attr-defined]


async def test_unprocessed_update_times_out(fake: FakeTelegram) -> None:
    fake.process_timeout = 0.1
    with pytest.raises(AssertionError, match="bot did not process update 1"):
        await fake.user(5).send("anybody?")
