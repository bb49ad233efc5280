"""The program as an operator runs it: `python -m bot` against a Bot API server, and Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from db.models import Department
from tests.conftest import ADMIN_ID, RunningBot
from tests.fake_telegram import TOKEN
from tests.stories import admin_joins, start_adding_department

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def program_env(fake, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of `python -m bot` against the fake Bot API, on a fresh SQLite file."""
    return {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": fake.base_url,
        "ADMIN_IDS": str(ADMIN_ID),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/program.sqlite3",
        **extra,
    }


async def start_program(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def stop_program(process: asyncio.subprocess.Process) -> str:
    """Ctrl+C: the program exits 0, with no traceback and no token in its log (returned)."""
    process.send_signal(signal.SIGINT)
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    log = output.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log
    assert TOKEN.split(":")[1] not in log  # the token never reaches the log
    return log


async def test_python_m_bot_migrates_starts_and_answers(fake, tmp_path):
    process = await start_program(program_env(fake, tmp_path), tmp_path)
    try:
        # importing aiogram alone takes seconds on a busy machine
        await fake.wait_for(lambda call: call.method == "getUpdates", timeout=90)
        admin = fake.user(ADMIN_ID, "Olga", language_code="ru")
        await admin.command("start")  # the program handles updates as tasks: wait for the reply
        welcome = await fake.wait_for(
            lambda call: call.method == "sendMessage" and call.chat_id == ADMIN_ID, timeout=10
        )
        assert "Добро пожаловать, Olga" in welcome.params["text"]
        assert admin.reply_keyboard == [
            ["📝 Записать контакт", "👤 Клиенты", "✅ Задачи"],
            ["💼 Сделки", "⚠️ Жалобы", "📊 Показатели"],
            ["👥 Команда", "🛠 Админ", "⚙️ Настройки"],
            ["❓ Помощь"],
        ]
    finally:
        await stop_program(process)


@pytest.mark.skipif(not redis_answers(), reason="Redis is not answering on 127.0.0.1:6379")
async def test_with_redis_a_restart_mid_flow_loses_nothing(fake, settings, session_factory, db):
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    running = RunningBot(settings.model_copy(update={"redis_url": REDIS_URL}), session_factory)
    await running.start()
    try:
        admin = await admin_joins(fake)
        await start_adding_department(admin)
        await admin.send("Redis Dept")
        assert await redis.keys("fieldcrm:*")  # the conversation lives in Redis

        await running.restart()
        await admin.press("marketing")
    finally:
        await running.stop()
        await redis.flushdb()
        await redis.aclose()
    assert [d.name for d in await db.all(select(Department))] == ["Redis Dept"]


async def test_webhook_mode_answers_telegram_with_the_secret_and_no_one_else(fake, tmp_path):
    """With WEBHOOK_URL the program sets the webhook (with its secret) instead of polling;
    a request without that secret is refused and changes nothing."""
    with socket.socket() as probe:  # a free local port for the webhook server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret = "s3cret_Token-42"
    env = program_env(
        fake,
        tmp_path,
        WEBHOOK_URL="https://crm.example.com/telegram/hook",
        WEBHOOK_SECRET=secret,
        WEBHOOK_LISTEN="127.0.0.1",
        WEBHOOK_PORT=str(port),
    )
    local = f"http://127.0.0.1:{port}/telegram/hook"
    process = await start_program(env, tmp_path)
    try:
        set_webhook = await fake.wait_for(lambda call: call.method == "setWebhook", timeout=90)
        assert set_webhook.params["url"] == "https://crm.example.com/telegram/hook"
        assert set_webhook.params["secret_token"] == secret
        fake.webhook_target = local

        admin = fake.user(ADMIN_ID, "Olga", language_code="ru")
        reply = await admin.command("start")  # posted with the secret, answered before the 200
        assert "Добро пожаловать, Olga" in reply.text

        forged = {"update_id": 999, "message": fake.updates[-1]["message"]}
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
                async with http.post(local, json=forged, headers=headers) as response:
                    assert response.status == 401
        sent = [call for call in fake.calls if call.method == "sendMessage"]
        assert len(sent) == len(reply.messages)  # the forged /start got no answer
        assert not [call for call in fake.calls if call.method == "getUpdates"]
    finally:
        log = await stop_program(process)
    assert secret not in log
