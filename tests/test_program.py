"""The program as an operator runs it: `python -m bot` against a Bot API server, and Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

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


async def test_python_m_bot_migrates_starts_and_answers(fake, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": fake.base_url,
        "ADMIN_IDS": str(ADMIN_ID),
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
        process.send_signal(signal.SIGINT)
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    log = output.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log
    assert TOKEN.split(":")[1] not in log  # the token never reaches the log


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
