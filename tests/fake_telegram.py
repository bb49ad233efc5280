"""A fake Telegram Bot API server for end-to-end tests of the bot.

The real :class:`aiogram.Bot` talks HTTP to this server (``TelegramAPIServer.from_base``) and
the real :class:`aiogram.Dispatcher` long-polls it with ``getUpdates``.  Tests act as Telegram
users through :class:`FakeUser` and read what the bot sent through :class:`Reply`,
:class:`SentMessage` and :attr:`FakeTelegram.calls`.

The server validates requests the way Telegram does (HTML/Markdown parse errors, length
limits, ``callback_data`` limits, "message is not modified", blocked users, first contact,
answering a callback query twice, ...) and answers with the same status codes and
descriptions, so bugs that would break in production fail the tests too.

Typical use::

    from tests.fake_telegram import FakeTelegram

    fake = FakeTelegram()
    await fake.start()
    bot = fake.make_bot()                      # real Bot(TOKEN, session pointing to the fake)
    async with fake.polling(dp, bot):          # start_polling(handle_as_tasks=False, ...)
        alice = fake.user(1001, "Alice")
        reply = await alice.command("start")   # waits until the bot processed the update
        assert "Welcome" in reply.text         # plain text of what the bot sent/edited
        reply = await alice.tap("New deal")    # reply-keyboard button (must be shown)
        reply = await alice.press("Confirm")   # inline button (must exist) -> callback_query
        assert reply.callback_answer is not None and not reply.errors
        assert alice.last.button_labels() == ["Edit", "Delete"]
        answer = await alice.inline_query("acme")  # "@bot acme" typed in any chat
        assert answer.is_personal and [r["title"] for r in answer.results] == ["Acme"]
    await fake.stop()

Other helpers: ``fake.user(id, started=True)`` (a user who talked to the bot before, so the
bot may write first, e.g. from a scheduled job), ``await fake.wait_for(predicate)`` (a call
made outside update processing), ``fake.fail_next("sendMessage", retry_after=5)`` (flood
control and other injected errors), ``fake.enforce_limits()`` or
``FakeTelegram(rate_limit=True)`` (opt-in flood control: 429 beyond 30 sends a second or for
bursts to one chat), ``fake.block(user_id)``, ``fake.sent_to(chat_id)``, ``fake.calls`` /
``fake.updates`` (raw traffic) and :class:`LocalAiohttpSession` (aiogram's session without its
250 ms pause on close; use it for any ``Bot`` pointed at the fake).

Processing detection: aiogram (with ``handle_as_tasks=False``) handles a batch of updates and
only then asks for the next batch with ``offset = last update_id + 1``.  An update counts as
processed when a ``getUpdates`` with a greater offset arrives; every API call made between the
delivery and that confirmation belongs to the update's :class:`Reply`.

Deviations from real Telegram are deliberate and small: ``strict_html=True`` (the default)
also rejects a bare ``&`` or ``>`` in HTML text (real Telegram shows them literally, but its
documentation requires escaping them and unescaped user input is a bug); blocking is only
lifted by :meth:`FakeTelegram.unblock` (or :meth:`FakeUser.unblock_bot`), not by the user
sending something; only private chats with users created by :meth:`FakeTelegram.user` exist.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import itertools
import json
import logging
import math
import mimetypes
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

__all__ = [
    "TOKEN",
    "ApiCall",
    "FakeTelegram",
    "FakeUser",
    "InlineAnswer",
    "LocalAiohttpSession",
    "Reply",
    "SentMessage",
    "TelegramError",
    "Upload",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
]

logger = logging.getLogger(__name__)

TOKEN = "123456789:TEST-token-for-fake-telegram"
"""Bot token accepted by a default :class:`FakeTelegram` (its id part is the bot id)."""

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
MAX_INLINE_BUTTONS = 100
INLINE_QUERY_LIMIT = 256
INLINE_RESULTS_LIMIT = 50
INLINE_RESULT_ID_LIMIT = 64
INLINE_CACHE_DEFAULT = 300

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BLOCKED = "Forbidden: bot was blocked by the user"
CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"

SEND_METHODS = frozenset(
    (
        "sendMessage sendPhoto sendDocument sendVoice sendAudio sendVideo sendAnimation "
        "sendSticker sendVideoNote sendLocation sendContact copyMessage forwardMessage"
    ).split()
)
EDIT_METHODS = frozenset({"editMessageText", "editMessageCaption", "editMessageReplyMarkup"})

# Parameters that are plain strings in the Bot API: never JSON-decode them (a text "123" must
# stay a string).  Everything else sent as form data is JSON-decoded when possible.
_STRING_PARAMS = frozenset(
    (
        "text caption parse_mode callback_query_id inline_message_id url action language_code "
        "photo document voice audio video animation sticker video_note thumbnail file_id "
        "emoji title description short_description name business_connection_id "
        "message_effect_id secret_token ip_address address phone_number first_name last_name "
        "vcard performer file_name question query certificate inline_query_id next_offset "
        "switch_pm_text switch_pm_parameter"
    ).split()
)
_CHAT_ACTIONS = frozenset(
    (
        "typing upload_photo record_video upload_video record_voice upload_voice "
        "upload_document choose_sticker find_location record_video_note upload_video_note"
    ).split()
)
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_INLINE_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_ENTITY_TYPES = frozenset(
    (
        "mention hashtag cashtag bot_command url email phone_number bold italic underline "
        "strikethrough spoiler blockquote expandable_blockquote code pre text_link "
        "text_mention custom_emoji date_time"
    ).split()
)
_ERROR_PREFIX = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
_FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake-telegram-photo\xff\xd9"
_FAKE_OGG = b"OggS\x00fake-telegram-voice"


class TelegramError(Exception):
    """An error answer of the Bot API (raised inside the fake, returned as JSON)."""

    def __init__(
        self, error_code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> TelegramError:
    return TelegramError(400, f"Bad Request: {description}")


class _ParseError(Exception):
    """Text formatting error; becomes ``Bad Request: can't parse entities: ...``."""


class LocalAiohttpSession(AiohttpSession):
    """aiogram's ``AiohttpSession`` minus the 250 ms sleep in ``close()``.

    aiogram waits there for SSL connections to shut down; the fake speaks plain HTTP on
    127.0.0.1, so the pause only slows every test down.  Requests are unchanged.
    """

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


# ---------------------------------------------------------------------------------------------
# Public data classes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A file uploaded in a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(eq=False)
class SentMessage:
    """A message in a fake chat; :meth:`FakeTelegram.sent_to` returns the bot's ones.

    ``text`` is the plain text of a text message (entities parsed, HTML removed), ``caption``
    the plain caption of a media message, ``html`` the raw text/caption exactly as the bot
    sent it.  ``reply_markup`` is the markup as sent (inline keyboard, reply keyboard, ...).
    Edits update the live object in place; :class:`Reply` holds snapshots.
    """

    message_id: int
    chat_id: int
    kind: str
    date: int
    outgoing: bool = True
    text: str | None = None
    caption: str | None = None
    html: str | None = None
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    media: Any = None
    file_id: str | None = None
    file_unique_id: str | None = None
    file_bytes: bytes | None = None
    file_name: str | None = None
    reply_to_message_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    edited: bool = False
    edit_date: int | None = None
    deleted: bool = False

    @property
    def content(self) -> str:
        """Plain text or caption ("" if none)."""
        return self.text if self.text is not None else (self.caption or "")

    def inline_buttons(self) -> list[list[dict[str, Any]]]:
        """Rows of inline keyboard buttons (Bot API dicts); [] without an inline keyboard."""
        if not self.reply_markup:
            return []
        return [list(row) for row in self.reply_markup.get("inline_keyboard") or []]

    def button_labels(self) -> list[str]:
        """Flat list of button texts of the attached keyboard (inline or reply keyboard)."""
        if not self.reply_markup:
            return []
        if "inline_keyboard" in self.reply_markup:
            return [b.get("text", "") for row in self.inline_buttons() for b in row]
        return [_kb_label(b) for row in self.reply_markup.get("keyboard") or [] for b in row]

    def button(self, label: str) -> dict[str, Any]:
        """The inline button with exactly this text (AssertionError if absent)."""
        for row in self.inline_buttons():
            for button in row:
                if button.get("text") == label:
                    return button
        raise AssertionError(
            f"message #{self.message_id} has no inline button {label!r}; "
            f"buttons: {self.button_labels()}"
        )

    def __repr__(self) -> str:
        flags = " edited" if self.edited else ""
        flags += " deleted" if self.deleted else ""
        labels = self.button_labels()
        kb = f" buttons={labels}" if labels else ""
        return (
            f"<SentMessage #{self.message_id} chat={self.chat_id} {self.kind}{flags} "
            f"{_short(self.content)!r}{kb}>"
        )


@dataclass
class ApiCall:
    """One HTTP request to the fake API (recorded when it completes)."""

    method: str
    params: dict[str, Any]
    chat_id: int | None
    ok: bool
    error: str | None
    error_code: int | None = None
    result: Any = None
    message: SentMessage | None = None
    """Snapshot of the message sent/edited by this call (send*/edit*/copy/forward only)."""
    at: float = field(default_factory=time.monotonic)
    """``time.monotonic()`` when the fake answered the call."""

    def __repr__(self) -> str:
        status = "ok" if self.ok else f"{self.error_code} {self.error}"
        shown = {k: _short(v) if isinstance(v, str) else v for k, v in self.params.items()}
        return f"<ApiCall {self.method} chat={self.chat_id} {status} {shown}>"


@dataclass
class Reply:
    """What the bot did while processing one update sent by a :class:`FakeUser`."""

    update_id: int
    chat_id: int
    calls: list[ApiCall]
    """API calls (any chat, ``getUpdates`` excluded) made while processing the update."""
    messages: list[SentMessage]
    """Snapshots of new messages sent to this user's chat."""
    edits: list[SentMessage]
    """Snapshots (state after the edit) of messages edited in this chat, one per edit call."""
    deleted: list[int]
    """Ids of messages deleted in this chat."""
    callback_answer: dict[str, Any] | None
    """Parameters of the successful ``answerCallbackQuery`` for this update, if any."""
    delivered: bool = True
    """False when the update was never given to the bot (e.g. not in ``allowed_updates``)."""

    @property
    def text(self) -> str:
        """Plain texts/captions of new messages then edits, joined with ``\\n---\\n``."""
        return "\n---\n".join(m.content for m in [*self.messages, *self.edits])

    @property
    def last(self) -> SentMessage:
        """The last new-or-edited message in this chat (AssertionError if none)."""
        for call in reversed(self.calls):
            if (
                call.ok
                and call.message is not None
                and call.message.chat_id == self.chat_id
                and (call.method in SEND_METHODS or call.method in EDIT_METHODS)
            ):
                return call.message
        raise AssertionError(f"bot sent/edited nothing in chat {self.chat_id}; calls: {self.calls}")

    @property
    def errors(self) -> list[ApiCall]:
        """Calls that failed (the bot got an error from "Telegram")."""
        return [c for c in self.calls if not c.ok]

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        """Snapshots of messages sent to any chat (or to ``chat_id``) during processing."""
        return [
            c.message
            for c in self.calls
            if c.ok
            and c.method in SEND_METHODS
            and c.message is not None
            and (chat_id is None or c.message.chat_id == chat_id)
        ]


@dataclass
class InlineAnswer:
    """What the bot answered to an inline query (``answerInlineQuery``), as the user sees it."""

    results: list[dict[str, Any]]
    """InlineQueryResult dicts in order (``id``, ``type``, ``title``, ``input_message_content``)."""
    is_personal: bool
    cache_time: int
    """Seconds Telegram may cache the answer (300 when the bot did not say)."""
    next_offset: str
    reply: Reply
    """Everything the bot did while processing the inline query."""

    @property
    def titles(self) -> list[str]:
        return [str(result.get("title", "")) for result in self.results]

    def texts(self) -> list[str]:
        """The plain text each result would post into the chat (HTML parsed like Telegram)."""
        texts = []
        for result in self.results:
            content = result.get("input_message_content") or {}
            raw = str(content.get("message_text", ""))
            mode = str(content.get("parse_mode") or "").lower()
            texts.append(parse_html(raw)[0] if mode == "html" else raw)
        return texts


# ---------------------------------------------------------------------------------------------
# Internal state
# ---------------------------------------------------------------------------------------------


@dataclass
class _Chat:
    user: FakeUser
    next_message_id: int = 1
    messages: dict[int, SentMessage] = field(default_factory=dict)
    reply_keyboard: dict[str, Any] | None = None
    menu_button: dict[str, Any] | None = None

    def allocate_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class _PendingUpdate:
    update_id: int
    kind: str
    payload: dict[str, Any]
    chat_id: int
    future: asyncio.Future[Reply]
    callback_id: str | None = None
    delivered_at: int | None = None


@dataclass
class _Injection:
    method: str
    remaining: int
    error: TelegramError
    chat_id: int | None


class _RateLimits:
    """Flood control as Telegram applies it to one bot (see :meth:`FakeTelegram.enforce_limits`).

    Overall: at most ``per_second`` sends in any sliding ``window``-second span. Per chat: a
    token bucket of ``chat_burst`` messages refilled at ``per_chat_per_second``. A refused send
    takes no token; its 429 carries ``retry_after``, whole seconds as Telegram gives them.
    """

    def __init__(
        self, per_second: int, per_chat_per_second: float, chat_burst: int, window: float
    ) -> None:
        self.per_second = per_second
        self.per_chat_per_second = per_chat_per_second
        self.chat_burst = chat_burst
        self.window = window
        self.sent: collections.deque[float] = collections.deque()
        self.chats: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at)
        self.refused = 0
        self.refused_overall = 0
        self.refused_chat = 0

    def check(self, chat_id: int | None, now: float) -> None:
        while self.sent and self.sent[0] <= now - self.window:
            self.sent.popleft()
        wait = 0.0
        if len(self.sent) >= self.per_second:
            wait = self.sent[0] + self.window - now
            self.refused_overall += 1
        tokens = float(self.chat_burst)
        if chat_id is not None and chat_id in self.chats:
            tokens, at = self.chats[chat_id]
            tokens = min(self.chat_burst, tokens + (now - at) * self.per_chat_per_second)
        if tokens < 1 - 1e-9:
            wait = max(wait, (1 - tokens) / self.per_chat_per_second)
            self.refused_chat += 1
        if wait > 0:
            self.refused += 1
            retry_after = max(1, math.ceil(wait))
            raise TelegramError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        self.sent.append(now)
        if chat_id is not None:
            self.chats[chat_id] = (tokens - 1, now)


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes | None
    file_name: str | None = None

    @property
    def path(self) -> str:
        suffix = mimetypes.guess_extension(_guess_mime(self.file_name) or "") or ""
        if self.kind == "photo":
            suffix = ".jpg"
        return f"{self.kind}s/file_{self.file_unique_id}{suffix}"


@dataclass
class _CallInfo:
    """Filled by method handlers to enrich the recorded :class:`ApiCall`."""

    chat_id: int | None = None
    message: SentMessage | None = None
    delivered: list[_PendingUpdate] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# The fake server
# ---------------------------------------------------------------------------------------------

_Handler = Callable[[dict[str, Any], _CallInfo], Any]


class FakeTelegram:
    """In-process fake of the Telegram Bot API (see the module docstring)."""

    def __init__(
        self,
        *,
        bot_id: int = 123456789,
        bot_username: str = "fieldcrm_test_bot",
        bot_name: str = "FieldCRM",
        strict_html: bool = True,
        rate_limit: bool = False,
    ) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_name = bot_name
        self.strict_html = strict_html
        self.token = f"{bot_id}:{TOKEN.split(':', 1)[1]}"
        self.process_timeout = 10.0
        """Seconds a :class:`FakeUser` action waits for the bot to process its update."""
        self.calls: list[ApiCall] = []
        self.updates: list[dict[str, Any]] = []
        """Every update queued by a :class:`FakeUser` (Bot API ``Update`` dicts), in order."""
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        """Last ``setMyCommands`` per (scope as sorted JSON, language_code or "")."""
        self.webhook: dict[str, Any] | None = None
        self.webhook_target: str | None = None
        """Where updates go while a webhook is set, as Telegram would post them to its URL (a
        public https address in setWebhook; a local one here). None: they wait in the queue."""
        self.default_menu_button: dict[str, Any] = {"type": "commands"}
        self.internal_errors: list[BaseException] = []
        """Exceptions raised by the fake itself (bugs in the fake, answered with 500)."""

        self._users: dict[int, FakeUser] = {}
        self._chats: dict[int, _Chat] = {}
        self._started: set[int] = set()
        self._blocked: set[int] = set()
        self._queue: list[_PendingUpdate] = []
        self._update_ids = itertools.count(1)
        self._file_seq = itertools.count(1)
        self._callback_seq = itertools.count(1)
        self._callbacks: dict[str, bool] = {}  # callback_query_id -> answered
        self._inline_seq = itertools.count(1)
        self._inline_queries: dict[str, bool] = {}  # inline_query_id -> answered
        self._files: dict[str, _StoredFile] = {}
        self._injections: list[_Injection] = []
        self.limits: _RateLimits | None = None
        """Flood control, off unless ``rate_limit=True`` or :meth:`enforce_limits`."""
        if rate_limit:
            self.enforce_limits()
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._last_poll_at: float | None = None
        self._polled = asyncio.Event()
        self._in_flight: list[str] = []  # methods of requests being handled right now
        self._closing = False
        self._changed = asyncio.Event()
        self._call_recorded = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self._methods: dict[str, tuple[str, _Handler | None]] = {}
        for name, handler in self._method_table().items():
            self._methods[name.lower()] = (name, handler)

    # ----------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start the HTTP server on 127.0.0.1 with a free port; sets :attr:`base_url`."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        self._closing = False

    async def stop(self) -> None:
        """Release long polls, fail pending user actions and stop the server."""
        self._closing = True
        self._pulse()
        for pending in self._queue:
            if not pending.future.done():
                pending.future.cancel()
        self._queue.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_server(self) -> TelegramAPIServer:
        return TelegramAPIServer.from_base(self.base_url)

    def make_bot(self, **kwargs: Any) -> Bot:
        """A real aiogram ``Bot`` talking to this fake (default ``parse_mode="HTML"``).

        It uses :class:`LocalAiohttpSession`, which closes without aiogram's 250 ms pause.
        """
        kwargs.setdefault("default", DefaultBotProperties(parse_mode="HTML"))
        return Bot(self.token, session=LocalAiohttpSession(api=self.api_server), **kwargs)

    @contextlib.asynccontextmanager
    async def polling(
        self, dp: Dispatcher, bot: Bot, *, polling_timeout: int = 1, **kwargs: Any
    ) -> AsyncIterator[asyncio.Task[None]]:
        """Run ``dp.start_polling`` (sequential handling) for the duration of the block.

        Waits for the first ``getUpdates`` before entering; on exit stops polling, re-raises a
        crash of the polling task and closes the bot session.
        """
        task = asyncio.create_task(
            dp.start_polling(
                bot,
                handle_as_tasks=False,
                handle_signals=False,
                polling_timeout=polling_timeout,
                **kwargs,
            )
        )
        try:
            self._polled.clear()
            waiter = asyncio.create_task(self.wait_polling())
            done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
                await task  # re-raise a startup error
                raise AssertionError("polling stopped before the first getUpdates")
            await waiter
            yield task
        finally:
            if not task.done():
                with contextlib.suppress(RuntimeError):
                    await dp.stop_polling()
            try:
                await task
            finally:
                await bot.session.close()

    # ---------------------------------------------------------------------------- test API

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ru",
        phone_number: str | None = None,
        started: bool = False,
    ) -> FakeUser:
        """The Telegram user ``user_id`` (created once; later calls return the same user).

        The bot may only write to a user after the user wrote to it: the first update from the
        user unlocks the chat, or ``started=True`` (the user talked to the bot earlier).
        """
        if started:
            self._started.add(user_id)
        if user_id in self._users:
            return self._users[user_id]
        if user_id <= 0:
            raise ValueError("user ids are positive")
        fake_user = FakeUser(
            self,
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            phone_number=phone_number,
        )
        self._users[user_id] = fake_user
        self._chats[user_id] = _Chat(fake_user)
        return fake_user

    def fail_next(
        self,
        method: str,
        *,
        retry_after: int | None = None,
        error_code: int = 429,
        description: str | None = None,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (optionally to ``chat_id``) fail.

        With ``retry_after`` the answer is the flood-control error aiogram turns into
        ``TelegramRetryAfter``; otherwise ``error_code`` with ``description`` (default: the
        standard prefix for the code, e.g. "Bad Gateway").
        """
        parameters = None
        if retry_after is not None:
            error_code = 429
            description = description or f"Too Many Requests: retry after {retry_after}"
            parameters = {"retry_after": retry_after}
        description = description or _ERROR_PREFIX.get(error_code, "Error")
        self._injections.append(
            _Injection(
                method.lower(), times, TelegramError(error_code, description, parameters), chat_id
            )
        )

    def enforce_limits(
        self,
        *,
        per_second: int = 30,
        per_chat_per_second: float = 1.0,
        chat_burst: int = 3,
        window: float = 1.0,
    ) -> None:
        """Answer sends (``sendMessage``, ``sendPhoto``, ...) with 429 and ``retry_after`` like
        Telegram's flood control: more than ``per_second`` of them in any ``window`` seconds,
        or a chat getting messages faster than ``per_chat_per_second`` beyond a burst of
        ``chat_burst``. Off by default; ``fake.limits.refused`` counts the 429s it answered."""
        self.limits = _RateLimits(per_second, per_chat_per_second, chat_burst, window)

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sends/edits to the chat answer 403 until :meth:`unblock`."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        """Live bot messages currently in the chat (not deleted), oldest first."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [m for m in chat.messages.values() if m.outgoing and not m.deleted]

    def calls_of(self, method: str, chat_id: int | None = None) -> list[ApiCall]:
        """Recorded calls of ``method`` (optionally to ``chat_id``)."""
        return [
            c
            for c in self.calls
            if c.method.lower() == method.lower() and (chat_id is None or c.chat_id == chat_id)
        ]

    def file_bytes(self, file_id: str) -> bytes | None:
        """Bytes of a file known to the fake (uploaded by the bot or sent by a user)."""
        stored = self._files.get(file_id)
        return stored.data if stored else None

    async def wait_for(
        self,
        predicate: Callable[[ApiCall], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the documented API
    ) -> ApiCall:
        """The first call (already recorded or future) matching ``predicate``."""
        return await self._wait_call(predicate, 0, timeout)

    async def _wait_call(
        self, predicate: Callable[[ApiCall], bool], start: int, within: float
    ) -> ApiCall:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        index = start
        while True:
            while index < len(self.calls):
                call = self.calls[index]
                index += 1
                if predicate(call):
                    return call
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"no matching API call within {within}s; calls so far:\n{self.describe()}"
                )
            event = self._call_recorded
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_polling(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has sent its first ``getUpdates`` (its startup is done)."""
        try:
            await asyncio.wait_for(self._polled.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"the bot did not call getUpdates within {timeout}s; calls:\n{self.describe()}"
            ) from None

    def describe(self, last: int = 30) -> str:
        """Human-readable listing of the last API calls (``getUpdates`` omitted)."""
        calls = [c for c in self.calls if c.method != "getUpdates"][-last:]
        return "\n".join(f"  {c!r}" for c in calls) or "  (none)"

    # --------------------------------------------------------------------- update plumbing

    def _pulse(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _enqueue(
        self, user: FakeUser, kind: str, body: dict[str, Any], callback_id: str | None = None
    ) -> _PendingUpdate:
        update_id = next(self._update_ids)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        pending = _PendingUpdate(
            update_id=update_id,
            kind=kind,
            payload={"update_id": update_id, kind: body},
            chat_id=user.id,
            future=future,
            callback_id=callback_id,
        )
        if kind != "inline_query":  # typing @bot somewhere does not open a chat with the bot
            self._started.add(user.id)
        self._queue.append(pending)
        self.updates.append(copy.deepcopy(pending.payload))
        self._pulse()
        return pending

    async def _deliver(
        self, user: FakeUser, kind: str, body: dict[str, Any], callback_id: str | None = None
    ) -> Reply:
        if self._runner is None:
            raise RuntimeError("FakeTelegram is not started")
        if self.webhook is not None and self.webhook_target is not None:
            return await self._post_to_webhook(user, kind, body, callback_id)
        pending = self._enqueue(user, kind, body, callback_id)
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), self.process_timeout)
        except TimeoutError:
            if pending.delivered_at is None:
                state = "never fetched by getUpdates"
                if self._last_poll_at is None:
                    state += " (getUpdates was never called: is the dispatcher polling?)"
            else:
                busy = [m for m in self._in_flight if m != "getUpdates"]
                state = "delivered, but the bot did not ask for the next batch: " + (
                    f"its requests {busy} are still being answered"
                    if busy
                    else "no API request in flight, so a handler is stuck elsewhere "
                    "(database lock? a lost await?) or polling uses handle_as_tasks=True"
                )
            raise AssertionError(
                f"bot did not process update {pending.update_id} ({kind} from {user.id}) "
                f"within {self.process_timeout}s: {state}; calls:\n{self.describe()}"
            ) from None

    async def _post_to_webhook(
        self, user: FakeUser, kind: str, body: dict[str, Any], callback_id: str | None
    ) -> Reply:
        """The update posted as Telegram does, with the secret given to setWebhook in its
        header; what the bot called before answering is the reply. Not 200: an AssertionError
        (Telegram would post the update again later)."""
        assert self.webhook is not None and self.webhook_target is not None
        update_id = next(self._update_ids)
        payload = {"update_id": update_id, kind: body}
        if kind != "inline_query":
            self._started.add(user.id)
        self.updates.append(copy.deepcopy(payload))
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
        first_call = len(self.calls)
        timeout = aiohttp.ClientTimeout(total=self.process_timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(self.webhook_target, json=payload, headers=headers) as response,
        ):
            if response.status != 200:
                raise AssertionError(f"the webhook answered {response.status} to {payload}")
        pending = _PendingUpdate(
            update_id=update_id,
            kind=kind,
            payload=payload,
            chat_id=user.id,
            future=asyncio.get_running_loop().create_future(),
            callback_id=callback_id,
            delivered_at=first_call,
        )
        return self._build_reply(pending, self.calls[first_call:])

    def _resolve(self, pending: _PendingUpdate, confirmed_at: int | None) -> None:
        if pending.future.done():
            return
        if pending.delivered_at is None or confirmed_at is None:
            reply = Reply(pending.update_id, pending.chat_id, [], [], [], [], None, False)
        else:
            calls = self.calls[pending.delivered_at : confirmed_at]
            reply = self._build_reply(pending, calls)
        pending.future.set_result(reply)

    def _build_reply(self, pending: _PendingUpdate, calls: list[ApiCall]) -> Reply:
        relevant = [c for c in calls if c.method != "getUpdates"]
        chat_id = pending.chat_id
        messages: list[SentMessage] = []
        edits: list[SentMessage] = []
        deleted: list[int] = []
        answer: dict[str, Any] | None = None
        for call in relevant:
            if not call.ok:
                continue
            if call.message is not None and call.message.chat_id == chat_id:
                if call.method in SEND_METHODS:
                    messages.append(call.message)
                elif call.method in EDIT_METHODS:
                    edits.append(call.message)
            if call.method == "deleteMessage" and call.chat_id == chat_id:
                deleted.append(int(call.params["message_id"]))
            if (
                call.method == "answerCallbackQuery"
                and answer is None
                and pending.callback_id is not None
                and str(call.params.get("callback_query_id")) == pending.callback_id
            ):
                answer = call.params
        return Reply(pending.update_id, chat_id, relevant, messages, edits, deleted, answer)

    def _is_allowed(self, kind: str) -> bool:
        if not self._allowed_updates:
            return kind not in _DEFAULT_EXCLUDED_UPDATES
        return kind in self._allowed_updates

    # ------------------------------------------------------------------------- HTTP layer

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        path = request.match_info["path"]
        for stored in self._files.values():
            if stored.path == path and stored.data is not None:
                return web.Response(body=stored.data)
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    async def _handle_api(self, request: web.Request) -> web.Response:
        raw_method = request.match_info["method"]
        self._in_flight.append(raw_method)
        try:
            return await self._answer_api(request, raw_method)
        finally:
            self._in_flight.remove(raw_method)

    async def _answer_api(self, request: web.Request, raw_method: str) -> web.Response:
        arrival = len(self.calls)  # calls made before this request arrived
        info = _CallInfo()
        params: dict[str, Any] = {}
        name = raw_method
        result: Any = None
        try:
            params = await _read_params(request)
            info.chat_id = _int_or_none(params.get("chat_id"))
            if request.match_info["token"] != self.token:
                raise TelegramError(401, "Unauthorized")
            entry = self._methods.get(raw_method.lower())
            if entry is None:
                raise TelegramError(404, "Not Found")
            name, handler = entry
            self._apply_injection(name, info.chat_id)
            if self.limits is not None and name in SEND_METHODS:
                self.limits.check(info.chat_id, time.monotonic())
            if handler is None:  # getUpdates: the only long-running (async) method
                result = await self._get_updates(params, info, arrival)
            else:
                result = handler(params, info)
        except TelegramError as exc:
            self._record(
                ApiCall(name, params, info.chat_id, False, exc.description, exc.error_code)
            )
            return web.json_response(exc.payload(), status=exc.error_code)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("fake telegram failed on %s", name)
            self.internal_errors.append(exc)
            error = TelegramError(500, f"Internal Server Error: fake telegram bug: {exc!r}")
            self._record(ApiCall(name, params, info.chat_id, False, error.description, 500))
            return web.json_response(error.payload(), status=500)
        self._record(ApiCall(name, params, info.chat_id, True, None, None, result, info.message))
        if info.delivered:
            delivered_at = len(self.calls)
            for pending in info.delivered:
                pending.delivered_at = delivered_at
        return web.json_response({"ok": True, "result": result})

    def _record(self, call: ApiCall) -> None:
        self.calls.append(call)
        self._call_recorded.set()
        self._call_recorded = asyncio.Event()

    def _apply_injection(self, method: str, chat_id: int | None) -> None:
        for injection in self._injections:
            if injection.method != method.lower() or injection.remaining <= 0:
                continue
            if injection.chat_id is not None and injection.chat_id != chat_id:
                continue
            injection.remaining -= 1
            if injection.remaining <= 0:
                self._injections.remove(injection)
            raise injection.error

    def _method_table(self) -> dict[str, _Handler | None]:
        return {
            "getMe": self._get_me,
            "getUpdates": None,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "logOut": _return_true,
            "close": _return_true,
            "sendMessage": self._send_message,
            "sendPhoto": self._media_sender("photo"),
            "sendDocument": self._media_sender("document"),
            "sendVoice": self._media_sender("voice"),
            "sendAudio": self._media_sender("audio"),
            "sendVideo": self._media_sender("video"),
            "sendAnimation": self._media_sender("animation"),
            "sendSticker": self._media_sender("sticker"),
            "sendVideoNote": self._media_sender("video_note"),
            "sendLocation": self._send_location,
            "sendContact": self._send_contact,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getMyCommands": self._get_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "getChat": self._get_chat,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "getFile": self._get_file,
        }

    # ---------------------------------------------------------------------- API: updates

    async def _get_updates(
        self, params: dict[str, Any], info: _CallInfo, arrival: int
    ) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise TelegramError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int_param(params, "offset", 0)
        limit = min(max(_int_param(params, "limit", 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), 50.0)
        if "allowed_updates" in params and isinstance(params["allowed_updates"], list):
            self._allowed_updates = [str(x) for x in params["allowed_updates"]]
        loop = asyncio.get_running_loop()
        self._last_poll_at = loop.time()
        self._polled.set()
        self._poll_generation += 1
        generation = self._poll_generation
        self._pulse()  # a newer getUpdates terminates older ones (409 Conflict)

        if offset < 0:
            keep = self._queue[offset:]
            for pending in self._queue[: len(self._queue) - len(keep)]:
                self._resolve(pending, arrival)
            self._queue = list(keep)
            offset = 0
        confirmed = [p for p in self._queue if p.update_id < offset]
        self._queue = [p for p in self._queue if p.update_id >= offset]
        for pending in confirmed:
            self._resolve(pending, arrival)

        deadline = loop.time() + timeout
        while True:
            for pending in list(self._queue):
                if pending.delivered_at is None and not self._is_allowed(pending.kind):
                    self._queue.remove(pending)
                    self._resolve(pending, None)
            batch = [p for p in self._queue if p.update_id >= offset][:limit]
            if batch:
                info.delivered = batch
                return [copy.deepcopy(p.payload) for p in batch]
            remaining = deadline - loop.time()
            if self._closing or remaining <= 0:
                return []
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
            if generation != self._poll_generation:
                raise TelegramError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )

    def _get_me(self, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _delete_webhook(self, params: dict[str, Any], info: _CallInfo) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates") is True:
            for pending in self._queue:
                self._resolve(pending, None)
            self._queue.clear()
        return True

    def _set_webhook(self, params: dict[str, Any], info: _CallInfo) -> bool:
        url = params.get("url")
        if not url:
            return self._delete_webhook(params, info)
        if not str(url).startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = dict(params)
        return True

    def _get_webhook_info(self, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        webhook = self.webhook or {}
        return {
            "url": webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }

    # ------------------------------------------------------------------- API: sending

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
        }

    def _writable_chat(self, params: dict[str, Any]) -> _Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        chat_id = _int_or_none(raw)
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise _bad("chat not found")
        if chat.user.id in self._blocked:
            raise TelegramError(403, BLOCKED)
        if chat.user.id not in self._started:
            raise TelegramError(403, CANT_INITIATE)
        return chat

    def _store_outgoing(
        self, chat: _Chat, message: SentMessage, params: dict[str, Any], info: _CallInfo
    ) -> dict[str, Any]:
        chat.messages[message.message_id] = message
        markup = message.reply_markup
        if markup is not None:
            if "keyboard" in markup:
                chat.reply_keyboard = markup
            elif markup.get("remove_keyboard"):
                chat.reply_keyboard = None
        info.chat_id = chat.user.id
        info.message = copy.deepcopy(message)
        return self._message_dict(message)

    def _reply_to(self, chat: _Chat, params: dict[str, Any]) -> int | None:
        reply = params.get("reply_parameters")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            if "message_id" not in reply:
                raise _bad('can\'t find field "message_id"')
            target = _int_or_none(reply["message_id"])
            allow_missing = allow_missing or bool(reply.get("allow_sending_without_reply"))
        else:
            target = _int_or_none(params.get("reply_to_message_id"))
        if target is None:
            return None
        existing = chat.messages.get(target)
        if existing is None or existing.deleted:
            if allow_missing:
                return None
            raise _bad("message to be replied not found")
        return target

    def _new_message(self, chat: _Chat, kind: str, params: dict[str, Any]) -> SentMessage:
        markup = _check_markup(params.get("reply_markup"), inline_only=False)
        reply_to = self._reply_to(chat, params)
        return SentMessage(
            message_id=chat.allocate_id(),
            chat_id=chat.user.id,
            kind=kind,
            date=int(time.time()),
            reply_markup=markup,
            reply_to_message_id=reply_to,
        )

    def _send_message(self, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        chat = self._writable_chat(params)
        plain, entities = self._format_text(params)
        message = self._new_message(chat, "text", params)
        message.text = plain
        message.entities = entities
        message.html = params.get("text")
        message.parse_mode = params.get("parse_mode")
        return self._store_outgoing(chat, message, params, info)

    def _format_text(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        raw = params.get("text")
        if raw is None or raw == "":
            raise _bad("message text is empty")
        plain, entities = self._format(str(raw), params.get("parse_mode"), params.get("entities"))
        if not plain:
            raise _bad("text must be non-empty")
        if len(plain) > TEXT_LIMIT:
            raise _bad("message is too long")
        return plain, entities

    def _format_caption(self, params: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
        raw = params.get("caption")
        if raw is None or raw == "":
            return None, []
        plain, entities = self._format(
            str(raw), params.get("parse_mode"), params.get("caption_entities")
        )
        if len(plain) > CAPTION_LIMIT:
            raise _bad("message caption is too long")
        return plain or None, entities

    def _format(self, raw: str, parse_mode: Any, entities: Any) -> tuple[str, list[dict[str, Any]]]:
        if entities:
            if not isinstance(entities, list):
                raise _bad('field "entities" must be of type Array')
            plain = raw
            checked = _check_entities(plain, entities)
        elif parse_mode:
            mode = str(parse_mode).lower()
            try:
                if mode == "html":
                    plain, checked = parse_html(raw, strict=self.strict_html)
                elif mode == "markdownv2":
                    plain, checked = parse_markdown_v2(raw)
                elif mode == "markdown":
                    plain, checked = parse_markdown(raw)
                else:
                    raise _bad("unsupported parse_mode")
            except _ParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
        else:
            plain, checked = raw, []
        return _trim(plain, checked)

    def _media_sender(self, kind: str) -> _Handler:
        def handler(params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
            return self._send_media(kind, params, info)

        return handler

    def _send_media(self, kind: str, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        chat = self._writable_chat(params)
        stored = self._input_file(kind, params.get(kind))
        caption, entities = (None, [])
        if kind not in ("sticker", "video_note"):
            caption, entities = self._format_caption(params)
        message = self._new_message(chat, kind, params)
        message.caption = caption
        message.entities = entities
        message.html = params.get("caption") or None
        message.parse_mode = params.get("parse_mode")
        message.file_id = stored.file_id
        message.file_unique_id = stored.file_unique_id
        message.file_bytes = stored.data
        message.file_name = stored.file_name
        message.media = _media_object(kind, stored, params)
        if kind == "photo":  # every photo size has its own file_id
            thumb = self._register_file("photo", stored.data, stored.file_name)
            message.media[0].update(file_id=thumb.file_id, file_unique_id=thumb.file_unique_id)
        return self._store_outgoing(chat, message, params, info)

    def _input_file(self, kind: str, value: Any) -> _StoredFile:
        if isinstance(value, Upload):
            if not value.data:
                raise _bad("file must be non-empty")
            if kind == "photo":
                if len(value.data) > 10 * 1024 * 1024:
                    raise _bad("PHOTO_INVALID_DIMENSIONS")
                if not _looks_like_image(value.data):
                    raise _bad("IMAGE_PROCESS_FAILED")
            elif len(value.data) > 50 * 1024 * 1024:
                raise TelegramError(413, "Request Entity Too Large")
            return self._register_file(kind, value.data, value.filename)
        if value is None or value == "":
            raise _bad(f"there is no {kind} in the request")
        if not isinstance(value, str):
            raise _bad("wrong file identifier/HTTP URL specified")
        if value.startswith(("http://", "https://")):
            name = value.rsplit("/", 1)[-1] or None
            return self._register_file(kind, None, name)
        stored = self._files.get(value)
        if stored is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if (stored.kind == "photo") != (kind == "photo"):
            raise _bad("type of file mismatch")
        return stored

    def _register_file(self, kind: str, data: bytes | None, name: str | None) -> _StoredFile:
        number = next(self._file_seq)
        stored = _StoredFile(
            file_id=f"FAKE{kind.upper()}{number:06d}{self.bot_id}",
            file_unique_id=f"U{number:06d}",
            kind=kind,
            data=data,
            file_name=name,
        )
        self._files[stored.file_id] = stored
        return stored

    def _send_location(self, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        chat = self._writable_chat(params)
        latitude = _float_param(params, "latitude")
        longitude = _float_param(params, "longitude")
        if not -90 <= latitude <= 90 or not -180 <= longitude <= 180:
            raise _bad("wrong location specified")
        message = self._new_message(chat, "location", params)
        message.media = {"latitude": latitude, "longitude": longitude}
        return self._store_outgoing(chat, message, params, info)

    def _send_contact(self, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        chat = self._writable_chat(params)
        if not params.get("phone_number"):
            raise _bad("phone number is empty")  # approximate description
        message = self._new_message(chat, "contact", params)
        message.media = {
            k: params[k] for k in ("phone_number", "first_name", "last_name") if params.get(k)
        }
        return self._store_outgoing(chat, message, params, info)

    def _send_chat_action(self, params: dict[str, Any], info: _CallInfo) -> bool:
        self._writable_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _copy_or_forward(
        self, params: dict[str, Any], info: _CallInfo, *, forward: bool
    ) -> SentMessage:
        chat = self._writable_chat(params)
        source_chat = self._chats.get(_int_or_none(params.get("from_chat_id")) or 0)
        if source_chat is None:
            raise _bad("chat not found")
        source = source_chat.messages.get(_int_param(params, "message_id", 0))
        if source is None or source.deleted:
            raise _bad(f"message to {'forward' if forward else 'copy'} not found")
        message = copy.deepcopy(source)
        message.message_id = chat.allocate_id()
        message.chat_id = chat.user.id
        message.date = int(time.time())
        message.outgoing = True
        message.edited = False
        message.edit_date = None
        message.reply_to_message_id = None
        message.extra = {}
        if forward:
            sender = self.bot_user if source.outgoing else source_chat.user.api_user
            message.extra["forward_origin"] = {
                "type": "user",
                "sender_user": sender,
                "date": source.date,
            }
            message.reply_markup = None
        else:
            message.reply_markup = _check_markup(params.get("reply_markup"), inline_only=False)
            message.reply_to_message_id = self._reply_to(chat, params)
            if "caption" in params and message.kind not in ("text", "location", "contact"):
                message.caption, message.entities = self._format_caption(params)
                message.html = params.get("caption") or None
        self._store_outgoing(chat, message, params, info)
        return message

    def _copy_message(self, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        message = self._copy_or_forward(params, info, forward=False)
        return {"message_id": message.message_id}

    def _forward_message(self, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        message = self._copy_or_forward(params, info, forward=True)
        return self._message_dict(message)

    # ------------------------------------------------------------------- API: editing

    def _editable(self, params: dict[str, Any]) -> tuple[_Chat, SentMessage]:
        if params.get("inline_message_id"):
            raise _bad("message to edit not found")  # inline mode is not supported by the fake
        chat = self._writable_chat(params)
        message_id = _int_or_none(params.get("message_id"))
        if message_id is None:
            raise _bad("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise _bad("message to edit not found")
        if not message.outgoing:
            raise _bad("message can't be edited")
        return chat, message

    def _finish_edit(
        self, message: SentMessage, changes: dict[str, Any], info: _CallInfo
    ) -> dict[str, Any]:
        current = {key: getattr(message, key) for key in changes}
        if "reply_markup" in current:
            current["reply_markup"] = _inline_part(current["reply_markup"])
        if current == changes:
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        for key, value in changes.items():
            setattr(message, key, value)
        message.edited = True
        message.edit_date = int(time.time())
        info.chat_id = message.chat_id
        info.message = copy.deepcopy(message)
        return self._message_dict(message)

    def _edit_message_text(self, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        _, message = self._editable(params)
        plain, entities = self._format_text(params)
        markup = _check_markup(params.get("reply_markup"), inline_only=True)
        if message.kind != "text":
            raise _bad("there is no text in the message to edit")
        changes = {"text": plain, "entities": entities, "reply_markup": markup}
        result = self._finish_edit(message, changes, info)
        message.html = params.get("text")
        message.parse_mode = params.get("parse_mode")
        info.message = copy.deepcopy(message)
        return result

    def _edit_message_caption(self, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        _, message = self._editable(params)
        caption, entities = self._format_caption(params)
        markup = _check_markup(params.get("reply_markup"), inline_only=True)
        if message.kind in ("text", "location", "contact", "sticker", "video_note"):
            raise _bad("there is no caption in the message to edit")
        changes = {"caption": caption, "entities": entities, "reply_markup": markup}
        result = self._finish_edit(message, changes, info)
        message.html = params.get("caption") or None
        message.parse_mode = params.get("parse_mode")
        info.message = copy.deepcopy(message)
        return result

    def _edit_message_reply_markup(self, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        _, message = self._editable(params)
        markup = _check_markup(params.get("reply_markup"), inline_only=True)
        return self._finish_edit(message, {"reply_markup": markup}, info)

    def _delete_message(self, params: dict[str, Any], info: _CallInfo) -> bool:
        chat = self._writable_chat(params)
        message = chat.messages.get(_int_param(params, "message_id", 0))
        if message is None or message.deleted:
            raise _bad("message to delete not found")
        message.deleted = True
        return True

    # ------------------------------------------------------------------ API: callbacks

    def _answer_callback_query(self, params: dict[str, Any], info: _CallInfo) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if self._callbacks.get(query_id, True):
            raise _bad(QUERY_INVALID.removeprefix("Bad Request: "))
        text = params.get("text")
        if text is not None and len(str(text)) > CALLBACK_ANSWER_LIMIT:
            raise _bad("MESSAGE_TOO_LONG")
        self._callbacks[query_id] = True
        return True

    # ------------------------------------------------------------- API: inline mode

    def _answer_inline_query(self, params: dict[str, Any], info: _CallInfo) -> bool:
        query_id = str(params.get("inline_query_id") or "")
        if self._inline_queries.get(query_id, True):
            raise _bad(QUERY_INVALID.removeprefix("Bad Request: "))
        results = params.get("results")
        if not isinstance(results, list):
            raise _bad('field "results" must be of type Array')  # approximate description
        if len(results) > INLINE_RESULTS_LIMIT:
            raise _bad("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            self._check_inline_result(result, seen)
        cache_time = params.get("cache_time")
        if cache_time is not None and _int_or_none(cache_time) is None:
            raise _bad('field "cache_time" must be of type Integer')  # approximate description
        if len(str(params.get("next_offset") or "").encode()) > 64:
            raise _bad("NEXT_OFFSET_INVALID")
        self._inline_queries[query_id] = True
        return True

    def _check_inline_result(self, result: Any, seen: set[str]) -> None:
        if not isinstance(result, dict) or not result.get("type"):
            raise _bad("can't parse inline query result: type is not specified")  # approximate
        result_id = result.get("id")
        if not isinstance(result_id, str) or not result_id:
            raise _bad("RESULT_ID_EMPTY")
        if len(result_id.encode()) > INLINE_RESULT_ID_LIMIT:
            raise _bad("RESULT_ID_INVALID")
        if result_id in seen:
            raise _bad("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        if result["type"] == "article" and not str(result.get("title") or "").strip():
            raise _bad("RESULT_TITLE_EMPTY")
        content = result.get("input_message_content")
        if result["type"] == "article" and not isinstance(content, dict):
            raise _bad("can't parse inline query result: input_message_content is required")
        if isinstance(content, dict) and "message_text" in content:
            raw = str(content.get("message_text") or "")
            plain, _ = self._format(raw, content.get("parse_mode"), content.get("entities"))
            if not plain.strip():
                raise _bad("MESSAGE_EMPTY")
            if len(plain) > TEXT_LIMIT:
                raise _bad("MESSAGE_TOO_LONG")
        if "reply_markup" in result:
            _check_markup(result["reply_markup"], inline_only=True)

    # -------------------------------------------------------------- API: bot settings

    def _commands_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _bad("can't parse BotCommandScope")
        language = str(params.get("language_code") or "")
        if language and (len(language) != 2 or not language.isalpha()):
            raise _bad("invalid language code specified")
        return json.dumps(scope, sort_keys=True), language

    def _set_my_commands(self, params: dict[str, Any], info: _CallInfo) -> bool:
        commands = params.get("commands")
        if commands is None:
            commands = []
        if not isinstance(commands, list):
            raise _bad('field "commands" must be of type Array')
        if len(commands) > 100:
            raise _bad("too many commands specified")
        for command in commands:
            if not isinstance(command, dict) or "command" not in command:
                raise _bad("can't parse BotCommand: Can't find field \"command\"")
            if "description" not in command:
                raise _bad("can't parse BotCommand: Can't find field \"description\"")
            name = str(command["command"])
            if not 1 <= len(name) <= 32 or not all(
                ch.isascii() and (ch.islower() or ch.isdigit() or ch == "_") for ch in name
            ):
                raise _bad("BOT_COMMAND_INVALID")
            description = str(command["description"]).strip()
            if not description:
                raise _bad("command description must be non-empty")
            if len(description) > 256:
                raise _bad("command description is too long")  # approximate description
        key = self._commands_key(params)
        if commands:
            self.commands[key] = [dict(c) for c in commands]
        else:
            self.commands.pop(key, None)
        return True

    def _delete_my_commands(self, params: dict[str, Any], info: _CallInfo) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _get_my_commands(self, params: dict[str, Any], info: _CallInfo) -> list[dict[str, Any]]:
        return self.commands.get(self._commands_key(params), [])

    def _set_chat_menu_button(self, params: dict[str, Any], info: _CallInfo) -> bool:
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise _bad("can't parse menu button")  # approximate description
        if "chat_id" in params:
            chat = self._chats.get(_int_or_none(params["chat_id"]) or 0)
            if chat is None:
                raise _bad("chat not found")
            chat.menu_button = button
        else:
            self.default_menu_button = button
        return True

    def _get_chat_menu_button(self, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        chat = self._chats.get(_int_or_none(params.get("chat_id")) or 0)
        if chat is not None and chat.menu_button is not None:
            return chat.menu_button
        return self.default_menu_button

    def _get_chat(self, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        chat = self._chats.get(_int_or_none(params.get("chat_id")) or 0)
        if chat is None or chat.user.id not in self._started:
            raise _bad("chat not found")
        return {
            **chat.user.chat_dict,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    def _get_file(self, params: dict[str, Any], info: _CallInfo) -> dict[str, Any]:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        result: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
        }
        if stored.data is not None:
            result["file_size"] = len(stored.data)
            result["file_path"] = stored.path
        return result

    # ------------------------------------------------------------------- serialization

    def _message_dict(self, message: SentMessage, *, with_reply: bool = True) -> dict[str, Any]:
        chat = self._chats[message.chat_id]
        sender = self.bot_user if message.outgoing else chat.user.api_user
        result: dict[str, Any] = {
            "message_id": message.message_id,
            "from": sender,
            "chat": chat.user.chat_dict,
            "date": message.date,
        }
        if message.kind == "text":
            result["text"] = message.text
            if message.entities:
                result["entities"] = copy.deepcopy(message.entities)
        else:
            result[message.kind] = copy.deepcopy(message.media)
            if message.kind == "animation":
                result["document"] = copy.deepcopy(message.media)
            if message.caption:
                result["caption"] = message.caption
                if message.entities:
                    result["caption_entities"] = copy.deepcopy(message.entities)
        result.update(copy.deepcopy(message.extra))
        if message.edit_date is not None:
            result["edit_date"] = message.edit_date
        markup = message.reply_markup
        if markup and markup.get("inline_keyboard"):
            result["reply_markup"] = {"inline_keyboard": copy.deepcopy(markup["inline_keyboard"])}
        if with_reply and message.reply_to_message_id is not None:
            target = chat.messages.get(message.reply_to_message_id)
            if target is not None and not target.deleted:
                result["reply_to_message"] = self._message_dict(target, with_reply=False)
        return result


# ---------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------


class FakeUser:
    """A Telegram user talking to the bot in a private chat (chat id == user id)."""

    def __init__(
        self,
        fake: FakeTelegram,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ru",
        phone_number: str | None = None,
    ) -> None:
        self.fake = fake
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.phone_number = phone_number or f"+7999{user_id % 10_000_000:07d}"
        self.location = (55.7558, 37.6173)
        """Coordinates sent when tapping a ``request_location`` button."""

    def __repr__(self) -> str:
        return f"<FakeUser {self.id} {self.first_name!r}>"

    @property
    def api_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    @property
    def chat_dict(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat

    @property
    def _chat(self) -> _Chat:
        return self.fake._chats[self.id]

    # ----------------------------------------------------------------------------- reading

    @property
    def messages(self) -> list[SentMessage]:
        """All bot messages currently in this chat (== ``fake.sent_to(user.id)``)."""
        return self.fake.sent_to(self.id)

    @property
    def last(self) -> SentMessage:
        """The newest bot message in this chat."""
        messages = self.messages
        if not messages:
            raise AssertionError(f"the bot has sent nothing to {self!r}")
        return messages[-1]

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """Labels of the reply keyboard currently shown, or None."""
        keyboard = self._chat.reply_keyboard
        if keyboard is None:
            return None
        return [[_kb_label(b) for b in row] for row in keyboard.get("keyboard") or []]

    # ------------------------------------------------------------------------------ acting

    async def _post(
        self, content: dict[str, Any], kind: str, reply_to: SentMessage | None = None
    ) -> Reply:
        chat = self._chat
        message = SentMessage(
            message_id=chat.allocate_id(),
            chat_id=self.id,
            kind=kind,
            date=int(time.time()),
            outgoing=False,
            reply_to_message_id=reply_to.message_id if reply_to else None,
        )
        if kind == "text":
            message.text = content["text"]
            message.entities = content.get("entities", [])
        else:
            message.media = content[kind]
            message.caption = content.get("caption")
            media = content[kind][-1] if kind == "photo" else content[kind]
            if isinstance(media, dict) and "file_id" in media:
                message.file_id = media["file_id"]
                message.file_unique_id = media.get("file_unique_id")
                message.file_name = media.get("file_name")
                message.file_bytes = self.fake.file_bytes(media["file_id"])
        chat.messages[message.message_id] = message
        body = self.fake._message_dict(message)
        return await self.fake._deliver(self, "message", body)

    async def send(self, text: str, *, reply_to: SentMessage | None = None) -> Reply:
        """Send a text message (a leading ``/command`` gets a ``bot_command`` entity)."""
        if not text.strip():
            raise ValueError("Telegram clients cannot send an empty message")
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": _u16(command)}]
        return await self._post(content, "text", reply_to)

    async def command(self, name: str, payload: str | None = None) -> Reply:
        """Send ``/name`` or ``/name payload`` (deep links: ``command("start", "code")``)."""
        text = f"/{name.lstrip('/')}"
        if payload:
            text += f" {payload}"
        return await self.send(text)

    async def tap(self, label: str) -> Reply:
        """Tap a button of the reply keyboard currently shown by the bot."""
        keyboard = self._chat.reply_keyboard
        if keyboard is None:
            raise AssertionError(
                f"{self!r} sees no reply keyboard (never sent or removed); cannot tap {label!r}"
            )
        for row in keyboard.get("keyboard") or []:
            for button in row:
                if _kb_label(button) != label:
                    continue
                if isinstance(button, dict) and button.get("request_contact"):
                    return await self.share_contact(
                        self.phone_number, self.first_name, self.last_name, user_id=self.id
                    )
                if isinstance(button, dict) and button.get("request_location"):
                    return await self.share_location(*self.location)
                return await self.send(label)
        raise AssertionError(
            f"reply keyboard of {self!r} has no button {label!r}; buttons: {self.reply_keyboard}"
        )

    async def press(self, label: str, *, message: SentMessage | None = None) -> Reply:
        """Press an inline callback button (newest bot message having it, or ``message``)."""
        chat = self._chat
        if message is not None:
            current = chat.messages.get(message.message_id)
            if current is None or current.deleted or not current.outgoing:
                raise AssertionError(f"message #{message.message_id} is not in {self!r}'s chat")
            candidates = [current]
        else:
            candidates = list(reversed(self.messages))
        for candidate in candidates:
            for row in candidate.inline_buttons():
                for button in row:
                    if button.get("text") == label and "callback_data" in button:
                        return await self._callback(candidate, button["callback_data"])
        available = [
            f"#{m.message_id} {_short(m.content)!r}: {m.button_labels()}"
            for m in candidates
            if m.inline_buttons()
        ]
        raise AssertionError(
            f"no inline callback button {label!r} in {self!r}'s chat; available:\n  "
            + ("\n  ".join(available) or "(no inline keyboards)")
        )

    async def press_forged(self, data: str, *, message: SentMessage | None = None) -> Reply:
        """Send callback data no button carries, as a tampered client can: access checks must
        hold without trusting it."""
        return await self._callback(message or self.last, data)

    async def _callback(self, message: SentMessage, data: str) -> Reply:
        query_id = str(9_000_000_000_000 + next(self.fake._callback_seq))
        self.fake._callbacks[query_id] = False
        body = {
            "id": query_id,
            "from": self.api_user,
            "message": self.fake._message_dict(message),
            "chat_instance": str(-(self.id * 7919 + self.fake.bot_id)),
            "data": data,
        }
        return await self.fake._deliver(self, "callback_query", body, query_id)

    async def inline_query(
        self, query: str = "", *, offset: str = "", chat_type: str = "sender"
    ) -> InlineAnswer:
        """Type ``@bot query`` in a chat (``chat_type``: sender, private, group, supergroup,
        channel) and wait for the bot's ``answerInlineQuery``: its first accepted answer
        (AssertionError if it did not answer, or Telegram refused every answer)."""
        if len(query) > INLINE_QUERY_LIMIT:
            raise ValueError(f"Telegram clients send at most {INLINE_QUERY_LIMIT} characters")
        query_id = str(7_000_000_000_000 + next(self.fake._inline_seq))
        self.fake._inline_queries[query_id] = False
        body = {
            "id": query_id,
            "from": self.api_user,
            "query": query,
            "offset": offset,
            "chat_type": chat_type,
        }
        reply = await self.fake._deliver(self, "inline_query", body)
        answers = [
            call
            for call in reply.calls
            if call.method == "answerInlineQuery"
            and str(call.params.get("inline_query_id")) == query_id
        ]
        for call in answers:
            if not call.ok:
                continue
            cache_time = _int_or_none(call.params.get("cache_time"))
            return InlineAnswer(
                results=list(call.params.get("results") or []),
                is_personal=call.params.get("is_personal") is True,
                cache_time=INLINE_CACHE_DEFAULT if cache_time is None else cache_time,
                next_offset=str(call.params.get("next_offset") or ""),
                reply=reply,
            )
        if answers:
            refused = "; ".join(str(call.error) for call in answers)
            raise AssertionError(f"Telegram refused the answers to {query!r}: {refused}")
        raise AssertionError(
            f"the bot did not answer inline query {query!r}; calls:\n{self.fake.describe()}"
        )

    async def share_contact(
        self,
        phone_number: str,
        first_name: str,
        last_name: str | None = None,
        user_id: int | None = None,
    ) -> Reply:
        """Send a contact (``user_id=self.id`` is what a ``request_contact`` button sends)."""
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if last_name:
            contact["last_name"] = last_name
        if user_id is not None:
            contact["user_id"] = user_id
        return await self._post({"contact": contact}, "contact")

    async def share_location(self, latitude: float, longitude: float) -> Reply:
        location = {"latitude": latitude, "longitude": longitude}
        return await self._post({"location": location}, "location")

    def _user_file(self, kind: str, data: bytes, name: str | None = None) -> _StoredFile:
        return self.fake._register_file(kind, data, name)

    async def send_photo(self, caption: str | None = None, *, data: bytes = _FAKE_JPEG) -> Reply:
        """Send a photo (three sizes with unique ``file_id``/``file_unique_id``)."""
        sizes = []
        for width, height in ((90, 68), (320, 240), (1280, 960)):
            stored = self._user_file("photo", data)
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": width,
                    "height": height,
                    "file_size": len(data),
                }
            )
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return await self._post(content, "photo")

    async def send_voice(self, duration: int = 3) -> Reply:
        stored = self._user_file("voice", _FAKE_OGG)
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(_FAKE_OGG),
        }
        return await self._post({"voice": voice}, "voice")

    async def send_document(
        self,
        file_name: str = "offer.pdf",
        caption: str | None = None,
        *,
        data: bytes = b"%PDF-1.4 fake document",
    ) -> Reply:
        stored = self._user_file("document", data, file_name)
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": _guess_mime(file_name) or "application/octet-stream",
            "file_size": len(data),
        }
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        return await self._post(content, "document")

    async def send_sticker(self, emoji: str = "👍") -> Reply:
        stored = self._user_file("sticker", b"RIFF\x00\x00\x00\x00WEBPfake")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return await self._post({"sticker": sticker}, "sticker")

    async def block_bot(self) -> Reply:
        """Block the bot: sends a ``my_chat_member`` update (status ``kicked``)."""
        self.fake.block(self.id)
        return await self._member_update("member", "kicked")

    async def unblock_bot(self) -> Reply:
        """Unblock the bot: sends a ``my_chat_member`` update (status ``member``)."""
        self.fake.unblock(self.id)
        return await self._member_update("kicked", "member")

    async def _member_update(self, old: str, new: str) -> Reply:
        bot = self.fake.bot_user
        new_member: dict[str, Any] = {"status": new, "user": bot}
        if new == "kicked":
            new_member["until_date"] = 0
        old_member: dict[str, Any] = {"status": old, "user": bot}
        if old == "kicked":
            old_member["until_date"] = 0
        body = {
            "chat": self.chat_dict,
            "from": self.api_user,
            "date": int(time.time()),
            "old_chat_member": old_member,
            "new_chat_member": new_member,
        }
        return await self.fake._deliver(self, "my_chat_member", body)


# ---------------------------------------------------------------------------------------------
# Request parsing helpers
# ---------------------------------------------------------------------------------------------


async def _read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = {k: _decode_param(k, v) for k, v in request.query.items()}
    if request.method != "POST" or not request.body_exists:
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise _bad("parameters must be an object")  # approximate description
        params.update(body)
        return params
    form = await request.post()
    uploads: dict[str, Upload] = {}
    for key, value in form.items():
        if isinstance(value, web.FileField):
            uploads[key] = Upload(value.filename, value.content_type, value.file.read())
        elif isinstance(value, (bytes, bytearray)):
            params[key] = _decode_param(key, bytes(value).decode("utf-8"))
        else:
            params[key] = _decode_param(key, str(value))
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            name = value.removeprefix("attach://")
            if name not in uploads:
                raise _bad(f"file {name!r} not found in the request")  # approximate
            params[key] = uploads.pop(name)
    for key, upload in uploads.items():
        params.setdefault(key, upload)
    return params


def _decode_param(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    return None


def _int_param(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    number = _int_or_none(value)
    if number is None:
        raise _bad(f'field "{name}" must be of type Integer')  # approximate description
    return number


def _float_param(params: dict[str, Any], name: str) -> float:
    value = params.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise _bad(f"wrong {name} specified")  # approximate description


def _return_true(params: dict[str, Any], info: _CallInfo) -> bool:
    return True


def _guess_mime(name: str | None) -> str | None:
    if not name:
        return None
    return mimetypes.guess_type(name)[0]


def _looks_like_image(data: bytes) -> bool:
    if data.startswith(_IMAGE_MAGIC):
        return True
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def _media_object(kind: str, stored: _StoredFile, params: dict[str, Any]) -> Any:
    base: dict[str, Any] = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if stored.data is not None:
        base["file_size"] = len(stored.data)
    if kind == "photo":
        small = {**base, "width": 90, "height": 90}
        small.pop("file_size", None)
        return [small, {**base, "width": 1280, "height": 960}]
    duration = _int_or_none(params.get("duration")) or 0
    if kind in ("document", "audio", "video", "animation") and stored.file_name:
        base["file_name"] = stored.file_name
        if mime := _guess_mime(stored.file_name):
            base["mime_type"] = mime
    if kind == "voice":
        return {**base, "duration": duration, "mime_type": "audio/ogg"}
    if kind == "audio":
        return {**base, "duration": duration}
    if kind in ("video", "animation"):
        width = _int_or_none(params.get("width")) or 640
        height = _int_or_none(params.get("height")) or 480
        return {**base, "width": width, "height": height, "duration": duration}
    if kind == "video_note":
        return {**base, "length": _int_or_none(params.get("length")) or 240, "duration": duration}
    if kind == "sticker":
        return {
            **base,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
    return base


def _inline_part(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of a markup that belongs to the message (only inline keyboards do)."""
    if markup and markup.get("inline_keyboard"):
        return markup
    return None


def _kb_label(button: Any) -> str:
    if isinstance(button, dict):
        return str(button.get("text", ""))
    return str(button)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Markup validation
# ---------------------------------------------------------------------------------------------


def _url_problem(url: str, *, https_only: bool = False) -> str | None:
    """Why Telegram would reject ``url`` (None if acceptable)."""
    if not url:
        return "URL host is empty"
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "http", url
    scheme = scheme.lower()
    if https_only and scheme != "https":
        return "Only HTTPS links are allowed"
    if scheme in ("tg", "ton"):
        return None if rest else "URL host is empty"
    if scheme not in ("http", "https"):
        return "Unsupported URL protocol"
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    host = host.split(":", 1)[0]
    if not host:
        return "URL host is empty"
    if host in ("localhost",) or host.replace(".", "").isdigit():
        return None
    labels = host.split(".")
    if len(labels) < 2 or not all(labels) or not labels[-1].isalpha():
        return "Wrong HTTP URL"
    return None


def _require_bool(container: dict[str, Any], key: str, prefix: str = "") -> None:
    if key in container and not isinstance(container[key], bool):
        raise _bad(f'{prefix}field "{key}" must be of type Boolean')


def _check_markup(markup: Any, *, inline_only: bool) -> dict[str, Any] | None:
    """Validate ``reply_markup`` like Telegram; returns it normalized (None if absent)."""
    if markup is None or markup == "":
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return _check_inline_keyboard(markup)
    if inline_only:
        raise _bad("inline keyboard expected")  # approximate description
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "keyboard" must be of type Array')
        for key in ("resize_keyboard", "one_time_keyboard", "selective", "is_persistent"):
            _require_bool(markup, key)
        for row in rows:
            for button in row:
                label = button if isinstance(button, str) else None
                if isinstance(button, dict):
                    if "text" not in button:
                        raise _bad("can't parse keyboard button: Can't find field \"text\"")
                    label = button["text"]
                    web_app = button.get("web_app")
                    if isinstance(web_app, dict):
                        url = str(web_app.get("url", ""))
                        if problem := _url_problem(url, https_only=True):
                            raise _bad(f"keyboard button Web App URL '{url}' is invalid: {problem}")
                if not isinstance(label, str):
                    raise _bad('can\'t parse keyboard button: Field "text" must be of type String')
                if not label.strip():
                    # approximate description: real Telegram rejects empty reply buttons too
                    raise _bad("keyboard button text must be non-empty")
        return markup
    if "remove_keyboard" in markup:
        _require_bool(markup, "remove_keyboard")
        _require_bool(markup, "selective")
        return markup
    if "force_reply" in markup:
        _require_bool(markup, "force_reply")
        _require_bool(markup, "selective")
        return markup
    raise _bad('can\'t find field "inline_keyboard"')  # approximate description


def _check_inline_keyboard(markup: dict[str, Any]) -> dict[str, Any] | None:
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _bad('field "inline_keyboard" must be of type Array')
    prefix = "can't parse inline keyboard button: "
    count = 0
    for row in rows:
        for button in row:
            count += 1
            if not isinstance(button, dict):
                raise _bad(prefix + "InlineKeyboardButton must be an Object")
            if "text" not in button:
                raise _bad(prefix + 'Can\'t find field "text"')
            if not isinstance(button["text"], str):
                raise _bad(prefix + 'Field "text" must be of type String')
            if not button["text"].strip():
                raise _bad("BUTTON_TEXT_INVALID")  # approximate description
            action = next(
                (k for k in _INLINE_BUTTON_ACTIONS if button.get(k) not in (None, "")), None
            )
            if action is None:
                raise _bad(prefix + "Text buttons are unallowed in the inline keyboard")
            value = button[action]
            if action == "callback_data":
                if not isinstance(value, str):
                    raise _bad(prefix + 'Field "callback_data" must be of type String')
                if len(value.encode("utf-8")) > CALLBACK_DATA_LIMIT:
                    raise _bad("BUTTON_DATA_INVALID")
            elif action == "url":
                if problem := _url_problem(str(value)):
                    raise _bad(f"inline keyboard button URL '{value}' is invalid: {problem}")
            elif action == "web_app":
                url = str(value.get("url", "")) if isinstance(value, dict) else ""
                if problem := _url_problem(url, https_only=True):
                    raise _bad(f"inline keyboard button Web App URL '{url}' is invalid: {problem}")
            elif action == "copy_text":
                text = value.get("text", "") if isinstance(value, dict) else ""
                if not text or len(text) > 256:
                    raise _bad("BUTTON_COPY_TEXT_INVALID")
            elif action in ("pay", "callback_game"):
                raise _bad("BUTTON_TYPE_INVALID")
    if count > MAX_INLINE_BUTTONS:
        raise _bad("reply markup is too long")
    if count == 0:
        return None  # an empty inline keyboard is no keyboard
    return markup


# ---------------------------------------------------------------------------------------------
# Text formatting (ports of TDLib's parsers, simplified)
# ---------------------------------------------------------------------------------------------


def _u16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _check_entities(text: str, entities: list[Any]) -> list[dict[str, Any]]:
    total = _u16(text)
    result: list[dict[str, Any]] = []
    for entity in entities:
        if not isinstance(entity, dict):
            raise _bad("can't parse MessageEntity: MessageEntity must be an Object")
        if entity.get("type") not in _ENTITY_TYPES:
            raise _bad("can't parse MessageEntity: Unsupported type specified")
        offset = _int_or_none(entity.get("offset"))
        length = _int_or_none(entity.get("length"))
        if offset is None or length is None:
            raise _bad("can't parse MessageEntity: Can't find field \"offset\"")
        if offset < 0:
            raise _bad(f"receive an entity with incorrect offset {offset}")
        if length < 0:
            raise _bad(f"receive an entity with incorrect length {length}")
        if offset > total:
            raise _bad(f"entity begins after the end of the text at UTF-16 offset {offset}")
        if offset + length > total:
            raise _bad(
                f"entity beginning at UTF-16 offset {offset} ends after the end of the text "
                f"at UTF-16 offset {offset + length}"
            )
        kind = entity["type"]
        if kind == "text_link":
            if "url" not in entity:
                raise _bad("can't parse MessageEntity: Can't find field \"url\"")
            if problem := _url_problem(str(entity["url"])):
                raise _bad(f"entity URL '{entity['url']}' is invalid: {problem}")
        if kind == "text_mention" and "user" not in entity:
            raise _bad("can't parse MessageEntity: Can't find field \"user\"")
        if kind == "custom_emoji":
            if "custom_emoji_id" not in entity:
                raise _bad("can't parse MessageEntity: Can't find field \"custom_emoji_id\"")
            if not str(entity["custom_emoji_id"]).isdigit():
                raise _bad(
                    'can\'t parse MessageEntity: Field "custom_emoji_id" must be a valid Number'
                )
        if length > 0:
            result.append(dict(entity))
    return result


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip surrounding whitespace like Telegram does, shifting/clipping entities."""
    stripped = text.strip()
    if stripped == text:
        return text, _sorted_entities(entities)
    lead = _u16(text[: len(text) - len(text.lstrip())])
    total = _u16(stripped)
    result = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, _sorted_entities(result)


def _sorted_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


_HTML_TAGS = frozenset(
    ("a b strong i em s strike del u ins tg-spoiler tg-emoji span pre code blockquote").split()
)
_HTML_ENTITY_TYPE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
}
_SPACES = " \t\r\n\v\0"
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _decode_html_entity(text: str, start: int) -> tuple[str | None, int]:
    """Decode ``&...;`` at ``start`` like TDLib (the ``;`` is optional)."""
    n = len(text)
    pos = start + 1
    if pos < n and text[pos] == "#":
        pos += 1
        if pos < n and text[pos] in "xX":
            pos += 1
            digits_start = pos
            while pos < n and text[pos] in "0123456789abcdefABCDEF" and pos - digits_start < 8:
                pos += 1
            digits = text[digits_start:pos]
            code = int(digits, 16) if digits else 0
        else:
            digits_start = pos
            while pos < n and text[pos] in "0123456789" and pos - digits_start < 8:
                pos += 1
            digits = text[digits_start:pos]
            code = int(digits) if digits else 0
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None, start
        char = chr(code)
    else:
        while pos < n and text[pos].isascii() and text[pos].isalpha():
            pos += 1
        named = _NAMED_ENTITIES.get(text[start + 1 : pos])
        if named is None:
            return None, start
        char = named
    if pos < n and text[pos] == ";":
        pos += 1
    return char, pos


def parse_html(text: str, *, strict: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (plain text, entities); raises ``_ParseError`` like TDLib.

    With ``strict`` a bare ``&`` or ``>`` is an error too (the Bot API documentation requires
    escaping them; TDLib itself keeps them literally).
    """
    n = len(text)

    def at(index: int) -> str:
        return text[index] if index < n else "\0"

    out: list[str] = []
    u16 = 0
    stack: list[tuple[str, str, int, int]] = []  # tag, argument, u16 start, index in out
    entities: list[dict[str, Any]] = []
    i = 0
    while i < n:
        char = text[i]
        if char == "&":
            decoded, end = _decode_html_entity(text, i)
            if decoded is not None:
                out.append(decoded)
                u16 += _u16(decoded)
                i = end
                continue
            if strict:
                raise _ParseError(
                    f'Unescaped "&" at byte offset {_byte_offset(text, i)} '
                    "(fake strict mode: escape it as &amp;)"
                )
        if char != "<":
            if char == ">" and strict:
                raise _ParseError(
                    f'Unescaped ">" at byte offset {_byte_offset(text, i)} '
                    "(fake strict mode: escape it as &gt;)"
                )
            out.append(char)
            u16 += _u16(char)
            i += 1
            continue
        begin = i
        i += 1
        if at(i) != "/":
            while at(i) not in _SPACES and at(i) != ">":
                i += 1
            if i >= n:
                raise _ParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
            tag = text[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise _ParseError(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                )
            argument = ""
            while at(i) != ">":
                while i < n and at(i) in _SPACES:
                    i += 1
                if i >= n:
                    raise _ParseError(
                        f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                    )
                if at(i) == ">":
                    break
                attr_begin = i
                while at(i) not in _SPACES and at(i) not in "=>":
                    i += 1
                attribute = text[attr_begin:i].lower()
                if not attribute:
                    raise _ParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{_byte_offset(text, begin)}"
                    )
                while i < n and at(i) in _SPACES:
                    i += 1
                if at(i) != "=":
                    if tag == "blockquote" and attribute == "expandable":
                        argument = "expandable"
                        continue
                    raise _ParseError(
                        f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                        f"at byte offset {_byte_offset(text, begin)}"
                    )
                i += 1
                while i < n and at(i) in _SPACES:
                    i += 1
                if i >= n:
                    raise _ParseError(
                        f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                    )
                if at(i) not in "'\"":
                    token_begin = i
                    while (at(i).isascii() and at(i).isalnum()) or at(i) in ".-":
                        i += 1
                    value = text[token_begin:i].lower()
                    if at(i) not in _SPACES and at(i) != ">":
                        raise _ParseError(
                            "Unexpected end of name token at byte offset "
                            f"{_byte_offset(text, token_begin)}"
                        )
                else:
                    quote = text[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and text[i] != quote:
                        if text[i] == "&":
                            decoded, end = _decode_html_entity(text, i)
                            if decoded is not None:
                                chars.append(decoded)
                                i = end
                                continue
                        chars.append(text[i])
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise _ParseError(
                        f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
                    )
                if tag == "a" and attribute == "href":
                    argument = value
                elif tag == "code" and attribute == "class" and value.startswith("language-"):
                    argument = value.removeprefix("language-")
                elif tag == "span" and attribute == "class" and value.startswith("tg-"):
                    argument = value.removeprefix("tg-")
                elif tag == "tg-emoji" and attribute == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise _ParseError(
                    'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(text, begin)}"
                )
            if tag == "tg-emoji" and not argument.isdigit():
                raise _ParseError("Invalid custom emoji identifier specified")
            stack.append((tag, argument, u16, len(out)))
            i += 1
            continue
        # end tag
        if not stack:
            raise _ParseError(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
        i += 1
        name_begin = i
        while at(i) not in _SPACES and at(i) != ">":
            i += 1
        end_name = text[name_begin:i].lower()
        while i < n and at(i) in _SPACES:
            i += 1
        if at(i) != ">":
            raise _ParseError(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
        tag, argument, start, out_start = stack.pop()
        if end_name and end_name != tag:
            raise _ParseError(
                f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                f'expected "</{tag}>", found "</{end_name}>"'
            )
        i += 1
        length = u16 - start
        if length <= 0:
            continue
        entity: dict[str, Any] = {"offset": start, "length": length}
        if tag == "a":
            url = argument or "".join(out[out_start:])
            if _url_problem(url) is not None:
                continue  # TDLib silently drops links with invalid URLs
            entity.update(type="text_link", url=url)
        elif tag == "blockquote":
            entity["type"] = "expandable_blockquote" if argument else "blockquote"
        elif tag == "tg-emoji":
            entity.update(type="custom_emoji", custom_emoji_id=argument)
        elif tag == "code" and argument:
            entity.update(type="code", language=argument)
        else:
            entity["type"] = _HTML_ENTITY_TYPE[tag]
        entities.append(entity)
    if stack:
        raise _ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), _merge_pre_code(entities)


def _merge_pre_code(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``<pre><code class="language-x">`` becomes one ``pre`` entity with a language."""
    result = []
    for entity in entities:
        if entity["type"] == "code" and "language" in entity:
            pre = next(
                (
                    e
                    for e in entities
                    if e["type"] == "pre"
                    and e["offset"] == entity["offset"]
                    and e["length"] == entity["length"]
                ),
                None,
            )
            if pre is not None:
                pre["language"] = entity["language"]
                continue
            entity = {k: v for k, v in entity.items() if k != "language"}
        result.append(entity)
    return result


_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse MarkdownV2 like TDLib (reserved characters must be escaped)."""
    n = len(text)

    def at(index: int) -> str:
        return text[index] if index < n else "\0"

    out: list[str] = []
    u16 = 0
    # (type, argument, u16 start, byte offset of the opening, len(out) at the opening)
    stack: list[tuple[str, str, int, int, int]] = []
    entities: list[dict[str, Any]] = []
    quote_start: int | None = None
    i = 0
    while i < n:
        char = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if char == "\\" and 0 < ord(at(i + 1)) <= 126:
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        in_code = bool(stack) and stack[-1][0] in ("code", "pre")
        if char == ">" and at_line_start and not stack:
            if quote_start is None:
                quote_start = u16
            i += 1
            continue
        if char == "\n" and quote_start is not None and at(i + 1) != ">":
            if u16 > quote_start:
                entities.append(
                    {"type": "blockquote", "offset": quote_start, "length": u16 - quote_start}
                )
            quote_start = None
        reserved = "`" if in_code else _MDV2_RESERVED
        if char not in reserved:
            out.append(char)
            u16 += _u16(char)
            i += 1
            continue
        closing = False
        if stack:
            kind = stack[-1][0]
            closing = {
                "bold": char == "*",
                "italic": char == "_" and at(i + 1) != "_",
                "code": char == "`",
                "pre": char == "`" and at(i + 1) == "`" and at(i + 2) == "`",
                "text_link": char == "]",
                "custom_emoji": char == "]",
                "underline": char == "_" and at(i + 1) == "_",
                "strikethrough": char == "~",
                "spoiler": char == "|" and at(i + 1) == "|",
            }[kind]
        if not closing:
            byte_offset = _byte_offset(text, i)
            argument = ""
            if char == "_":
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif char == "*":
                kind = "bold"
            elif char == "~":
                kind = "strikethrough"
            elif char == "|" and at(i + 1) == "|":
                kind = "spoiler"
                i += 1
            elif char == "[":
                kind = "text_link"
            elif char == "!" and at(i + 1) == "[":
                kind = "custom_emoji"
                i += 1
            elif char == "`":
                if at(i + 1) == "`" and at(i + 2) == "`":
                    kind = "pre"
                    i += 3
                    language_end = i
                    while at(language_end) not in _SPACES and at(language_end) != "`":
                        language_end += 1
                    if i != language_end and language_end < n and at(language_end) != "`":
                        argument = text[i:language_end]
                        i = language_end
                    if at(i) in "\r\n":
                        i += 2 if at(i + 1) in "\r\n" and at(i + 1) != at(i) else 1
                    i -= 1
                else:
                    kind = "code"
            else:
                raise _ParseError(
                    f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
                )
            stack.append((kind, argument, u16, byte_offset, len(out)))
            i += 1
            continue
        kind, argument, start, _, out_start = stack.pop()
        entity: dict[str, Any] = {"type": kind, "offset": start, "length": u16 - start}
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind == "pre":
            i += 2
            if argument:
                entity["language"] = argument
        elif kind in ("text_link", "custom_emoji"):
            url = ""
            if at(i + 1) == "(":
                i += 2
                url_begin = i
                chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and 0 < ord(at(i + 1)) <= 126:
                        chars.append(text[i + 1])
                        i += 2
                        continue
                    chars.append(text[i])
                    i += 1
                if at(i) != ")":
                    raise _ParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, url_begin)}"
                    )
                url = "".join(chars)
            elif kind == "text_link":
                url = "".join(out[out_start:])
            if kind == "custom_emoji":
                emoji_id = url.removeprefix("tg://emoji?id=")
                if emoji_id == url or not emoji_id.isdigit():
                    raise _ParseError("Custom emoji entity must contain a tg://emoji URL")
                entity["custom_emoji_id"] = emoji_id
            elif _url_problem(url) is not None:
                entity = {}
            else:
                entity["url"] = url
        i += 1
        if entity and entity["length"] > 0:
            entities.append(entity)
    if quote_start is not None and u16 > quote_start:
        entities.append({"type": "blockquote", "offset": quote_start, "length": u16 - quote_start})
    if stack:
        kind, _, _, byte_offset, _ = stack[-1]
        raise _ParseError(
            f"Can't find end of {_MDV2_NAMES[kind]} entity at byte offset {byte_offset}"
        )
    return "".join(out), entities


def parse_markdown(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse legacy Markdown like TDLib (``*bold*``, ``_italic_``, `` `code` ``, links)."""
    n = len(text)

    def at(index: int) -> str:
        return text[index] if index < n else "\0"

    out: list[str] = []
    u16 = 0
    entities: list[dict[str, Any]] = []
    i = 0
    while i < n:
        char = text[i]
        if char == "\\" and at(i + 1) in "_*`[":
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        if char not in "_*`[":
            out.append(char)
            u16 += _u16(char)
            i += 1
            continue
        begin = i
        end_char = "]" if char == "[" else char
        is_pre = False
        language = ""
        i += 1
        if char == "`" and at(i) == "`" and at(i + 1) == "`":
            is_pre = True
            i += 2
            language_end = i
            while at(language_end) not in _SPACES and at(language_end) != "`":
                language_end += 1
            if i != language_end and language_end < n and at(language_end) != "`":
                language = text[i:language_end]
                i = language_end
            if at(i) in "\r\n":
                i += 2 if at(i + 1) in "\r\n" and at(i + 1) != at(i) else 1
        start = u16
        inner_start = len(out)
        while i < n and (
            text[i] != end_char or (is_pre and not (at(i + 1) == "`" and at(i + 2) == "`"))
        ):
            out.append(text[i])
            u16 += _u16(text[i])
            i += 1
        if i >= n:
            raise _ParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        entity: dict[str, Any] | None = None
        if u16 > start:
            if char == "_":
                entity = {"type": "italic"}
            elif char == "*":
                entity = {"type": "bold"}
            elif char == "`":
                entity = {"type": "pre", "language": language} if is_pre else {"type": "code"}
                if is_pre and not language:
                    entity.pop("language")
            else:
                url = "".join(out[inner_start:])
                if at(i + 1) == "(":
                    url_end = text.find(")", i + 2)
                    if url_end != -1:
                        url = text[i + 2 : url_end]
                        i = url_end
                if _url_problem(url) is None:
                    entity = {"type": "text_link", "url": url}
        elif char == "[" and at(i + 1) == "(":
            url_end = text.find(")", i + 2)
            if url_end != -1:
                i = url_end
        if entity is not None:
            entity.update(offset=start, length=u16 - start)
            entities.append(entity)
        i += 3 if is_pre else 1
    return "".join(out), entities
