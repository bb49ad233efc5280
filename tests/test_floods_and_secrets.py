"""Floods and secrets: one account flooding the bot is slowed down without anybody else waiting,
and the bot token never shows in a log, an error or anything the bot sends."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.config import SettingsError, load_settings
from bot.logs import REDACTED, install_redaction
from bot.middlewares import throttle
from bot.middlewares.throttle import NOTICE_EVERY, FloodMiddleware
from bot.services import catalog
from tests.conftest import ADMIN_ID
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.stories import add_department, admin_joins, colleague_joins

ROOT = Path(__file__).resolve().parent.parent
ANNA = 2001
BURST = 10
SECRET = TOKEN.split(":", 1)[1]
SLOW_DOWN = "Too many messages at once. Please slow down: I will answer again in a moment."


@pytest.fixture
def settings(settings):
    """A small burst, so the flood story stays short; the rate is the default one a minute."""
    return settings.model_copy(update={"flood_burst": BURST})


# Floods


async def test_a_flooding_account_is_slowed_down_and_nobody_else_waits(fake, bot):
    admin = await admin_joins(fake)
    await add_department(admin, "Sales")
    anna = await colleague_joins(fake, admin, ANNA, "Anna", department="Sales")
    await asyncio.sleep(1.5)  # Anna's bucket is full again after her /start
    first_call = len(fake.calls)

    flood = [asyncio.create_task(anna.send(f"spam {n}")) for n in range(300)]
    await asyncio.sleep(0)  # all 300 are queued before the admin's message
    started = time.monotonic()
    reply = await admin.tap("❓ Help")
    waited = time.monotonic() - started
    await asyncio.gather(*flood)
    flooding = time.monotonic() - started

    assert "FieldCRM in short" in reply.text
    assert waited < 5, f"the admin waited {waited:.1f}s behind the flood"
    to_anna = [
        call.params["text"]
        for call in fake.calls[first_call:]
        if call.method == "sendMessage" and call.chat_id == ANNA
    ]
    notices = [text for text in to_anna if text == SLOW_DOWN]
    assert len(notices) == 1
    answered = len(to_anna) - len(notices)  # each update that got through has one answer
    assert BURST <= answered <= BURST + int(flooding) + 2, to_anna

    # a second later a token is back: Anna is served, and not told to slow down again
    await asyncio.sleep(1.1)
    reply = await anna.tap("❓ Help")
    assert "FieldCRM in short" in reply.text and SLOW_DOWN not in reply.text


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def flood_guard(clock: Clock, burst: int = 3) -> FloodMiddleware:
    i18n = SimpleNamespace(gettext=lambda text, locale=None: text)
    return FloodMiddleware(60, burst, i18n, "en", now=clock)  # type: ignore[arg-type]


def update_from(user_id: int) -> dict[str, Any]:
    return {"event_from_user": SimpleNamespace(id=user_id, language_code="en")}


async def test_the_bucket_refills_and_the_notice_comes_once_a_minute(monkeypatch):
    clock, notices = Clock(), []

    async def notice(event, text):
        notices.append(text)

    monkeypatch.setattr(throttle, "_slow_down", notice)
    guard = flood_guard(clock)

    async def handler(event, data):
        return "handled"

    async def send(user_id: int = 1) -> Any:
        return await guard(handler, object(), update_from(user_id))

    assert [await send() for _ in range(5)] == ["handled"] * 3 + [None, None]
    assert notices == [SLOW_DOWN]
    assert await send(2) == "handled"  # somebody else: their own bucket
    clock.now += 1  # one update a second comes back
    assert [await send(), await send()] == ["handled", None]
    assert len(notices) == 1
    clock.now += NOTICE_EVERY
    assert [await send() for _ in range(5)] == ["handled"] * 3 + [None, None]
    assert len(notices) == 2  # a new minute, a new notice


async def test_a_busy_account_never_holds_up_another():
    """No lock shared between accounts and no sleeping: while the flooder's update is stuck
    in its handler, another account's update goes straight through."""
    guard = flood_guard(Clock(), burst=1)
    stuck = asyncio.Event()

    async def handler(event, data):
        if data["event_from_user"].id == 1:
            await stuck.wait()
        return "handled"

    flooder = asyncio.create_task(guard(handler, object(), update_from(1)))
    await asyncio.sleep(0)
    dropped = await asyncio.wait_for(guard(handler, object(), update_from(1)), 1)
    other = await asyncio.wait_for(guard(handler, object(), update_from(2)), 1)
    assert (dropped, other) == (None, "handled")
    stuck.set()
    assert await flooder == "handled"


# Secrets


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    return caplog.text + "\n".join(record.getMessage() for record in caplog.records)


def everything_sent(fake: FakeTelegram) -> str:
    return "\n".join(repr(call.params) for call in fake.calls)


async def test_a_crash_carrying_the_token_is_logged_without_it(fake, bot, monkeypatch, caplog):
    """The kind of error that carries the token: an HTTP library quoting the request URL."""
    admin = await admin_joins(fake)
    url = f"{fake.base_url}/bot{TOKEN}/getMe"

    async def broken(*args, **kwargs):
        try:
            raise ConnectionError(f"Cannot connect to {url}")
        except ConnectionError as error:
            raise RuntimeError(f"request to {url} failed; token {TOKEN!r}") from error

    monkeypatch.setattr(catalog, "departments", broken)
    with caplog.at_level(logging.DEBUG):
        await admin.tap("🛠 Admin")
        reply = await admin.press("🏢 Departments")

    assert "something went wrong on our side" in (reply.callback_answer or {}).get("text", "")
    logged = everything_logged(caplog)
    assert "update" in logged and "failed" in logged and "Traceback" in logged
    assert f"/bot123456789:{REDACTED}/getMe" in logged  # the URL stays readable, minus the secret
    assert SECRET not in logged
    assert SECRET not in everything_sent(fake)


async def test_telegram_errors_and_debug_logs_never_show_the_token(fake, bot, caplog):
    """Everything at DEBUG, including a Telegram error whose description quotes the URL (a
    misconfigured proxy in TELEGRAM_API_BASE answers like that)."""
    with caplog.at_level(logging.DEBUG):
        logging.getLogger().setLevel(logging.DEBUG)
        admin = await admin_joins(fake)
        fake.fail_next(
            "sendMessage", error_code=502, description=f"Bad Gateway: upstream /bot{TOKEN}/send"
        )
        await admin.tap("❓ Help")
        # what an HTTP client logs at DEBUG, on a logger below the root with its own handler
        handler = logging.Handler()
        seen: list[logging.LogRecord] = []
        handler.emit = seen.append  # type: ignore[method-assign]
        http = logging.getLogger("aiohttp.client.debugging")
        http.addHandler(handler)
        try:
            http.debug("POST %s", f"{fake.base_url}/bot{TOKEN}/sendMessage")
            http.debug("session %r", SimpleNamespace(token=TOKEN))
            try:
                raise ValueError(TOKEN)
            except ValueError:
                http.exception("secret part alone: %s", SECRET)
        finally:
            http.removeHandler(handler)

    logged = everything_logged(caplog)
    assert "Bad Gateway" in logged  # the failure is logged...
    assert SECRET not in logged  # ...without the token
    assert len(seen) == 3
    formatter = logging.Formatter()
    assert all(SECRET not in formatter.format(record) for record in seen)
    assert REDACTED in formatter.format(seen[0])


def test_settings_errors_never_show_the_token():
    for overrides in (
        {"database_url": "mysql://nope"},
        {"admin_ids": "12,abc"},
        {"default_timezone": "Mars/Olympus"},
    ):
        with pytest.raises(SettingsError) as error:
            load_settings(_env_file=None, bot_token=TOKEN, **overrides)
        assert SECRET not in str(error.value)
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, bot_token=SECRET)  # the secret without its id
    assert SECRET not in str(error.value)


def test_redaction_is_idempotent_and_keeps_ordinary_records_as_they_are(caplog):
    install_redaction(TOKEN)
    install_redaction(TOKEN)
    with caplog.at_level(logging.INFO):
        logging.getLogger("bot.test").info("update %s handled in %d ms", 7, 12)
    record = caplog.records[-1]
    assert (record.msg, record.args) == ("update %s handled in %d ms", (7, 12))


async def test_the_program_never_prints_the_token(fake, tmp_path):
    """`python -m bot` at DEBUG against a Bot API server that fails with the URL in its answer:
    the program stops with a traceback, and neither it nor the logs show the token."""
    fake.fail_next("deleteWebhook", error_code=502, description=f"Bad Gateway: /bot{TOKEN}/x")
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": fake.base_url,
        "ADMIN_IDS": str(ADMIN_ID),
        "LOG_LEVEL": "DEBUG",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/program.sqlite3",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 120)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode()
    assert process.returncode != 0
    assert "Bad Gateway" in text and "Traceback" in text
    assert f"/bot123456789:{REDACTED}/x" in text  # the error is shown, minus the secret
    assert SECRET not in text, text


def test_the_secret_of_a_real_looking_token_is_redacted_from_a_subprocess_crash(tmp_path):
    """An uncaught exception printed by Python itself goes through the redaction too."""
    code = (
        "from bot.logs import install_redaction\n"
        f"install_redaction({TOKEN!r})\n"
        f"raise RuntimeError('https://api.telegram.org/bot{TOKEN}/getMe')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"bot123456789:{REDACTED}/getMe" in result.stderr
    assert SECRET not in result.stderr + result.stdout
