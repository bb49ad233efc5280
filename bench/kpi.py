"""`python -m bench.kpi [--quick] [--rebuild] [--postgres URL] [--explain]`: KPIs, charts and
the heads' morning digest at the scale of a big company (issue 8, part 5).

The data set: 20 departments (17 sales, 2 service, 1 marketing), 500 managers, 40 heads (two
per department), 100,000 clients (industries, regions and lead sources spread unevenly, each
sales department mostly in its home region), 1,000,000 contacts over the twelve months before
NOW, 200,000 deals (stages, amounts, product lines, 95% in the default currency; lead sources
and managers win at different rates), 20,000 complaints with their SLAs, 50,000 survey
answers, monthly plans and 60,000 tasks. It is generated from a fixed seed around a fixed
moment (NOW), so every run sees the same numbers, and kept between runs in
data/bench_kpi.sqlite3 and in the PostgreSQL database (`--rebuild` makes it again; migrations
newer than the data set are applied to it). It is built in a child process with bulk inserts
(and PRAGMAs or COPY for the load only), each database is measured in a child process of its
own, so every peak memory is that run's alone. No ANALYZE on SQLite: the bot never runs it.

Measured through the real code, each call in a new session as the bot opens one per update:
1. a department's month dashboard (kpi.dashboard: this month and the one before), by its head;
2. the company's breakdown by region for the month (kpi.breakdown), by an admin;
3. one chart render through the chart worker (bot/render.py, drawing bot/charts.py): revenue
   against plan, and a 25-manager leaderboard;
4. the morning digest run for the 40 heads (bot.digest.send_digests at 08:30: figures, texts,
   charts, outbox rows; Telegram's send limits are the outbox worker's, not measured here).
   A first run for a sample of heads comes first: if all of them would take longer than
   DIGEST_PROJECTED_MAX_S, that projection is reported instead of waiting for it;
5. peak memory: the bot's process (every module of the bot imported) and the chart worker's,
   each its VmHWM, and the bot's memory right after the imports.
Medians (the machine is shared) with min, max and the CPU time of the process (what a busy
machine cannot inflate); each series after one warm-up call. `--explain` prints every
statement of a dashboard, a breakdown and a head's digest with its time and query plan.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import math
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, event, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import bot.app  # noqa: F401  (every module the running bot loads, for its memory)
from bot import digest, render
from bot.clock import FakeClock
from bot.config import Settings
from bot.i18n import create_i18n
from bot.render import Chart, Picture, picture
from bot.services import kpi, parsing
from bot.services.kpi import Dimension, Period, PeriodKind, Slice
from bot.services.slices import WHOLE_COMPANY
from db.migrate import upgrade
from db.models import (
    Client,
    Deal,
    Department,
    DepartmentKind,
    Interaction,
    OutboxMessage,
    ReferenceItem,
    ReferenceKind,
    Role,
    User,
)
from db.session import create_engine, create_session_factory

if TYPE_CHECKING:  # imported where used: the bot on SQLite never loads asyncpg
    import asyncpg

SEED = 8
VERSION = 3  # bump when the generator changes: cached data sets are then built again
NOW = datetime(2026, 11, 19, 5, 30, tzinfo=UTC)  # a Thursday, 08:30 in Moscow
TZ = ZoneInfo("Europe/Moscow")
CURRENCY = "RUB"
STALE_DAYS = 30
DATA = Path(__file__).resolve().parent.parent / "data"
MARKER = "bench_kpi.dataset"  # app_settings key, written last: the data set is complete
CHUNK = 50_000
DAY = 86_400
WORK_START = 6 * 3600  # 09:00 in Moscow, as seconds after midnight UTC
WORK_SPAN = 10 * 3600
NAIVE_EPOCH = datetime(1970, 1, 1)
AWARE_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LEADERBOARD_ROWS = 25
DIGEST_SAMPLE = 4  # heads in the first, probing run
DIGEST_PROJECTED_MAX_S = 60.0  # projected longer than that: the whole run is not attempted

TARGET_DASHBOARD_MS = 100.0
TARGET_BREAKDOWN_MS = 300.0
TARGET_CHART_MS = 150.0
TARGET_DIGEST_S = 10.0
TARGET_MEMORY_MB = 250.0


@dataclass(frozen=True)
class Size:
    name: str
    managers: int
    clients: int
    interactions: int
    deals: int
    complaints: int
    answers: int
    tasks: int
    rounds: int
    digest_runs: int

    @property
    def label(self) -> str:
        return (
            f"v{VERSION} seed {SEED}: {self.managers} managers, {self.clients} clients, "
            f"{self.interactions} contacts, {self.deals} deals, {self.complaints} complaints, "
            f"{self.answers} answers, {self.tasks} tasks"
        )


FULL = Size("full", 500, 100_000, 1_000_000, 200_000, 20_000, 50_000, 60_000, 30, 3)
QUICK = Size("quick", 100, 10_000, 100_000, 20_000, 2_000, 5_000, 6_000, 10, 1)

# Reference lists: (name, weight, factor). Product lines: amount factor; lead sources: how
# much more often than average their clients' deals are won.
PRODUCT_LINES = (
    ("Оборудование", 3, 2.5),
    ("Запчасти", 5, 0.4),
    ("Сервисные контракты", 4, 0.8),
    ("Расходные материалы", 4, 0.3),
    ("Программное обеспечение", 2, 1.2),
    ("Монтаж и пусконаладка", 2, 1.0),
    ("Обучение", 1, 0.3),
    ("Лизинг", 1, 4.0),
)
INDUSTRIES = tuple(  # a long tail: 1, 1/2, 1/3...
    (name, 1 / rank, 1.0)
    for rank, name in enumerate(
        (
            "Розничная торговля|Производство|Строительство|Оптовая торговля|Логистика|"
            "Сельское хозяйство|Медицина|HoReCa|Образование|Энергетика|IT|Госсектор|Финансы|"
            "Добыча"
        ).split("|"),
        start=1,
    )
)
REGIONS = (
    ("Москва", 30, 1.0),
    ("Санкт-Петербург", 14, 1.0),
    ("Московская область", 10, 1.0),
    ("Свердловская область", 6, 1.0),
    ("Новосибирская область", 5, 1.0),
    ("Республика Татарстан", 5, 1.0),
    ("Краснодарский край", 5, 1.0),
    ("Нижегородская область", 4, 1.0),
    ("Самарская область", 4, 1.0),
    ("Ростовская область", 4, 1.0),
    ("Красноярский край", 3, 1.0),
    ("Пермский край", 3, 1.0),
)
LEAD_SOURCES = (
    ("Рекомендация", 3, 1.5),
    ("Сайт", 5, 1.0),
    ("Холодный звонок", 4, 0.6),
    ("Выставка", 2, 1.2),
    ("Яндекс Директ", 4, 0.8),
    ("Партнёр", 2, 1.3),
    ("Соцсети", 2, 0.7),
    ("Email-рассылка", 1, 0.9),
)
LOST_REASONS = tuple(
    (name, 1.0, 1.0)
    for name in ("Цена", "Конкурент", "Нет бюджета", "Сроки", "Пропал", "Не подошло")
)
COMPLAINT_CATEGORIES = tuple(
    (name, weight, 1.0)
    for name, weight in (
        ("Качество", 5),
        ("Сроки поставки", 4),
        ("Комплектность", 2),
        ("Документы", 2),
        ("Сервис", 3),
        ("Оплата", 1),
        ("Другое", 1),
    )
)
# Sales departments: their home region (index into REGIONS) and, for the eastern ones, the
# time zone (the others are in Moscow's).
SALES_HOMES = (0, 0, 0, 0, 0, 1, 1, 2, 2, 5, 6, 7, 9, 3, 4, 8, 10)
SALES_ZONES = {
    14: "Asia/Yekaterinburg",
    15: "Asia/Novosibirsk",
    16: "Europe/Samara",
    17: "Asia/Krasnoyarsk",
}
SERVICE_DEPARTMENTS = 2
WORDS = (
    "Ромашка Берёзка Восток Север Сибирь Урал Волга Альфа Бета Гамма Дельта Омега Техно Агро "
    "Строй Мед Фарм Нефть Газ Лес Мир Дом Свет Вектор Прогресс Атлант Титан Орион Вега Zenith "
    "Acme Nova Terra Polar Delta Vertex Summit Apex Quantum Nord Green Blue Smart Prime Global"
).split()
FIRST_NAMES = (
    "Анна Иван Мария Алексей Ольга Дмитрий Елена Сергей Наталья Андрей Ирина Павел".split()
)
LAST_NAMES = (
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров".split()
)
FORMS = ("ООО", "ООО", "АО", "ИП", "", "")
SUMMARIES = (
    "Обсудили график поставок и следующий заказ",
    "Уточнили потребность, отправлю КП",
    "Клиент сравнивает с конкурентом, просит скидку",
    "Согласовали спецификацию",
    "Напомнил об оплате счёта",
    "Презентовал новую линейку",
    "Не дозвонился, перезвонить",
    "Встреча на объекте, осмотрели оборудование",
)
TASK_TEXTS = ("Перезвонить", "Отправить КП", "Выставить счёт", "Встреча", "Проверить оплату")
SLA_HOURS = {"low": 168, "medium": 72, "high": 24, "critical": 4}  # the Settings defaults
KINDS = (("call", 40), ("message", 22), ("email", 15), ("meeting", 11), ("visit", 12))
OPEN_STAGES = (("new", 3), ("qualified", 3), ("proposal", 2), ("negotiation", 2))
NPS_WEIGHTS = (2, 1, 1, 1.5, 2, 3, 4, 8, 12, 14, 16)  # scores 0..10
CSAT_WEIGHTS = (4, 5, 12, 35, 44)  # scores 1..5


def month_key(seconds: float) -> str:
    """The Moscow month of a moment, as plans key it."""
    moment = AWARE_EPOCH + timedelta(seconds=seconds + 3 * 3600)
    return f"{moment.year:04d}-{moment.month:02d}"


def shift_month(month: str, months: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:]) - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


# ------------------------------------------------------------------------------- the data set


Rows = Iterator[list[tuple[Any, ...]]]


class World:
    """The whole data set from one seed. Small tables come out as dicts for SQLAlchemy (their
    Python-side defaults apply); big ones as chunks of tuples for a bulk loader, which gives
    its own `stamp` (seconds since 1970 -> a stored moment) and `day` (a date) converters."""

    def __init__(
        self, size: Size, stamp: Callable[[float], Any], day: Callable[[date], Any]
    ) -> None:
        self.size = size
        self.rng = random.Random(SEED)
        self.stamp = stamp
        self.day = day
        self.now = NOW.timestamp()
        self.midnight = NOW.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        self._references()
        self._people()
        self._clients()

    # -- reference lists, departments, people

    def _references(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.lists: dict[ReferenceKind, list[tuple[int, float, float]]] = {}
        for kind, entries in (
            (ReferenceKind.PRODUCT_LINE, PRODUCT_LINES),
            (ReferenceKind.INDUSTRY, INDUSTRIES),
            (ReferenceKind.REGION, REGIONS),
            (ReferenceKind.LEAD_SOURCE, LEAD_SOURCES),
            (ReferenceKind.LOST_REASON, LOST_REASONS),
            (ReferenceKind.COMPLAINT_CATEGORY, COMPLAINT_CATEGORIES),
        ):
            found = self.lists[kind] = []
            for name, weight, factor in entries:
                item_id = len(self.items) + 1
                self.items.append({"id": item_id, "kind": kind, "name": name, "archived": False})
                found.append((item_id, weight, factor))
        self.factor = {
            item_id: factor for found in self.lists.values() for item_id, _, factor in found
        }

    def pick(self, kind: ReferenceKind, k: int) -> list[int]:
        found = self.lists[kind]
        return self.rng.choices([i for i, _, _ in found], [w for _, w, _ in found], k=k)

    def _people(self) -> None:
        rng, size = self.rng, self.size
        created = NOW - timedelta(days=800)
        self.departments: list[dict[str, Any]] = []
        self.zone: dict[int, str] = {}
        for n in range(1, len(SALES_HOMES) + 1):
            zone = SALES_ZONES.get(n, TZ.key)
            self._department(f"Отдел продаж {n}", DepartmentKind.SALES, zone, created)
        for n in range(1, SERVICE_DEPARTMENTS + 1):
            self._department(f"Сервис {n}", DepartmentKind.SERVICE, "Europe/Moscow", created)
        self._department("Маркетинг", DepartmentKind.MARKETING, "Europe/Moscow", created)
        sales_ids = list(range(1, len(SALES_HOMES) + 1))
        service_ids = [len(SALES_HOMES) + n for n in range(1, SERVICE_DEPARTMENTS + 1)]
        marketing_id = len(self.departments)

        self.users: list[dict[str, Any]] = []
        for n in range(1, 3):
            self._user(Role.ADMIN, None, f"Администратор {n}")
        for department in self.departments:
            for _ in range(2):
                self._user(Role.HEAD, department["id"], self._person_name())
        n_sales = round(size.managers * 0.88)
        n_service = round(size.managers * 0.08)
        weights = [rng.uniform(0.6, 1.4) for _ in sales_ids]
        homes = sales_ids * 3 + rng.choices(sales_ids, weights, k=n_sales - 3 * len(sales_ids))
        homes += [service_ids[n % len(service_ids)] for n in range(n_service)]
        homes += [marketing_id] * (size.managers - n_sales - n_service)
        for department_id in sorted(homes):
            self._user(Role.MANAGER, department_id, self._person_name())
        self.department_of = {u["id"]: u["department_id"] for u in self.users}
        managers = [u["id"] for u in self.users if u["role"] is Role.MANAGER]
        self.sales = [m for m in managers if self.department_of[m] in sales_ids]
        self.service = {
            queue: [m for m in managers if self.department_of[m] == queue] for queue in service_ids
        }
        # How much each salesperson does (contacts, clients) and how well they sell.
        self.activity = {m: rng.lognormvariate(0, 0.35) for m in self.sales}
        self.skill = {m: min(max(rng.gauss(1.0, 0.25), 0.4), 1.8) for m in self.sales}

    def _department(self, name: str, kind: DepartmentKind, zone: str, created: datetime) -> None:
        department_id = len(self.departments) + 1
        self.departments.append(
            {"id": department_id, "name": name, "kind": kind, "created_at": created}
        )
        self.zone[department_id] = zone

    def _person_name(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def _user(self, role: Role, department_id: int | None, name: str) -> int:
        user_id = len(self.users) + 1
        zone = self.zone.get(department_id or 0, "Europe/Moscow")
        self.users.append(
            {
                "id": user_id,
                "telegram_id": 700_000_000 + user_id,
                "full_name": f"{name} {user_id}",
                "username": None,
                "role": role,
                "department_id": department_id,
                "locale": "ru" if user_id % 10 else "en",
                "timezone": zone,
                "is_active": role is not Role.MANAGER or user_id % 50 != 0,
                # the morning run is the heads' (an admin's company digest is timed apart)
                "digest_time": None if role is Role.ADMIN else "08:30",
                "created_at": NOW - timedelta(days=700),
            }
        )
        return user_id

    # -- moments

    def window(self, days_back: int) -> tuple[list[float], list[float]]:
        """Midnights (UTC) of the `days_back` days before NOW's day, and cumulative weights:
        weekdays busy, weekends quiet, New Year and May holidays near empty, a summer dip, and
        a business that grew by half over the window."""
        starts, weights = [], []
        for back in range(1, days_back + 1):
            midnight = self.midnight - back * DAY
            day = (AWARE_EPOCH + timedelta(seconds=midnight)).date()
            weight = (1.0, 1.0, 1.0, 1.0, 0.95, 0.12, 0.04)[day.weekday()]
            weight *= 1.2 - 0.4 * back / days_back
            if (day.month == 1 and day.day <= 8) or (day.month == 5 and day.day in (1, 2, 9)):
                weight *= 0.1
            if day.month in (7, 8):
                weight *= 0.85
            starts.append(midnight)
            weights.append(weight)
        return starts, list(itertools.accumulate(weights))

    def moments(self, window: tuple[list[float], list[float]], k: int) -> list[float]:
        """k working-hour moments in the window, by its weights."""
        rng = self.rng
        days = rng.choices(window[0], cum_weights=window[1], k=k)
        return [day + WORK_START + rng.random() * WORK_SPAN for day in days]

    # -- clients

    def _clients(self) -> None:
        rng, n = self.rng, self.size.clients
        weights = list(itertools.accumulate(self.activity[m] for m in self.sales))
        self.client_owner = rng.choices(self.sales, cum_weights=weights, k=n)
        recent = self.moments(self.window(365), n)
        self.client_created = [
            recent[i] if rng.random() < 0.22 else self.now - rng.uniform(366, 6 * 365) * DAY
            for i in range(n)
        ]
        self.by_owner: dict[int, tuple[list[float], list[int]]] = {}
        ordered = sorted(range(n), key=self.client_created.__getitem__)
        for index in ordered:
            created, ids = self.by_owner.setdefault(self.client_owner[index], ([], []))
            created.append(self.client_created[index])
            ids.append(index + 1)
        regions = self.pick(ReferenceKind.REGION, n)
        region_ids = [i for i, _, _ in self.lists[ReferenceKind.REGION]]
        industries = self.pick(ReferenceKind.INDUSTRY, n)
        sources = self.pick(ReferenceKind.LEAD_SOURCE, n)
        self.client_region: list[int | None] = []
        self.client_industry: list[int | None] = []
        self.client_source: list[int | None] = []
        for i in range(n):
            department_id = self.department_of[self.client_owner[i]]
            home = region_ids[SALES_HOMES[department_id - 1]]
            roll = rng.random()
            self.client_region.append(None if roll < 0.03 else home if roll < 0.63 else regions[i])
            self.client_industry.append(None if rng.random() < 0.04 else industries[i])
            self.client_source.append(None if rng.random() < 0.08 else sources[i])

    def client_before(self, owner: int, moment: float) -> tuple[int, float]:
        """One of the owner's clients that existed at `moment` (the oldest one, and the
        moment moved after its creation, if none did)."""
        created, ids = self.by_owner[owner]
        known = bisect.bisect_left(created, moment)
        if known == 0:
            return ids[0], min(created[0] + 3600, self.now - 60)
        return ids[self.rng.randrange(known)], moment

    def clients(self) -> Rows:
        rng, stamp = self.rng, self.stamp
        rows = []
        for index in range(self.size.clients):
            client_id = index + 1
            person = rng.random() < 0.15
            if person:
                name = f"{rng.choice(LAST_NAMES)} {rng.choice(FIRST_NAMES)} {client_id}"
            else:
                form = rng.choice(FORMS)
                core = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {client_id}"
                name = f"{form} «{core}»" if form else core
            created = self.client_created[index]
            age = self.now - created
            roll = rng.random()
            if age < 90 * DAY:
                status = "lead" if roll < 0.6 else "active"
            else:
                status = "active" if roll < 0.65 else "lead" if roll < 0.8 else "inactive"
            phone = f"+79{client_id:09d}"
            rows.append(
                (
                    client_id,
                    name,
                    parsing.normalize_name(name),
                    parsing.search_key(name),
                    "person" if person else "company",
                    status,
                    phone,
                    phone[1:],
                    f"info@client{client_id}.ru" if rng.random() < 0.5 else None,
                    None if person else f"{7_700_000_000 + client_id}",
                    self.client_industry[index],
                    self.client_region[index],
                    self.client_source[index],
                    self.client_owner[index],
                    self.client_owner[index],
                    stamp(created),
                    stamp(created + rng.random() * age),
                )
            )
            if len(rows) == CHUNK:
                yield rows
                rows = []
        yield rows

    CLIENT_COLUMNS = tuple(
        (
            "id name name_key search_text kind status phone phone_digits email inn "
            "industry_id region_id lead_source_id owner_id created_by_id created_at "
            "updated_at"
        ).split()
    )

    # -- client chats (the clients who agreed to be asked)

    def client_chats(self) -> Rows:
        rng, stamp = self.rng, self.stamp
        self.chat_of: dict[int, int] = {}
        rows = []
        for index in range(self.size.clients):
            if rng.random() >= 0.45 or self.now - self.client_created[index] < 30 * DAY:
                continue
            client_id, chat_id = index + 1, len(self.chat_of) + 1
            self.chat_of[client_id] = chat_id
            consented = self.client_created[index] + rng.uniform(1, 20) * DAY
            opted_out = consented + DAY if rng.random() < 0.03 else None
            rows.append(
                (
                    chat_id,
                    6_000_000_000 + chat_id,
                    client_id,
                    f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    "ru",
                    stamp(consented),
                    stamp(opted_out) if opted_out else None,
                    False,
                    stamp(consented - 60),
                )
            )
        for start in range(0, len(rows), CHUNK):
            yield rows[start : start + CHUNK]

    CHAT_COLUMNS = tuple(
        (
            "id telegram_id client_id name locale consented_at opted_out_at unreachable created_at"
        ).split()
    )

    # -- deals

    def deals(self) -> Rows:
        rng, stamp, day = self.rng, self.stamp, self.day
        n = self.size.deals
        weights = list(itertools.accumulate(self.activity[m] * self.skill[m] for m in self.sales))
        owners = rng.choices(self.sales, cum_weights=weights, k=n)
        created_at = self.moments(self.window(425), n)
        lines = self.pick(ReferenceKind.PRODUCT_LINE, n)
        reasons = [i for i, _, _ in self.lists[ReferenceKind.LOST_REASON]]
        self.client_deals: dict[int, list[int]] = {}
        self.won_deals: list[tuple[int, int, float, int]] = []  # id, client, closed, line
        self.won: dict[tuple[int, str], list[int]] = {}  # (owner, month): [revenue, count]
        rows = []
        for index in range(n):
            deal_id, owner, line = index + 1, owners[index], lines[index]
            client_id, created = self.client_before(owner, created_at[index])
            rubles = rng.lognormvariate(math.log(120_000), 0.9) * self.factor[line]
            roll = rng.random()
            currency, rate = (
                ("RUB", 1) if roll < 0.95 else ("USD", 90) if roll < 0.985 else ("EUR", 100)
            )
            amount = max(round(rubles / rate, -3 if rate == 1 else -1), 100) * 100
            cycle = rng.lognormvariate(math.log(20), 0.7) * DAY
            source = self.client_source[client_id - 1]
            chance = 0.4 * self.skill[owner] * (self.factor[source] if source else 1.0)
            closed: float | None = None
            if created + cycle < self.now and rng.random() < 0.92:
                closed = created + cycle
                stage = "won" if rng.random() < min(chance, 0.85) else "lost"
            else:
                stage = rng.choices(*zip(*OPEN_STAGES, strict=True))[0]
            if stage == "won":
                assert closed is not None
                self.won_deals.append((deal_id, client_id, closed, line))
                if currency == CURRENCY:
                    figures = self.won.setdefault((owner, month_key(closed)), [0, 0])
                    figures[0] += amount
                    figures[1] += 1
            self.client_deals.setdefault(client_id, []).append(deal_id)
            expected = (AWARE_EPOCH + timedelta(seconds=created + cycle)).date()
            last = closed if closed else created + rng.random() * (self.now - created)
            rows.append(
                (
                    deal_id,
                    client_id,
                    owner,
                    owner,
                    f"Поставка №{deal_id}",
                    line,
                    amount,
                    currency,
                    stage,
                    None if closed else day(expected),
                    rng.choice(reasons) if stage == "lost" else None,
                    rng.randint(1, 5),
                    stamp(last),
                    stamp(closed) if closed else None,
                    stamp(created),
                )
            )
            if len(rows) == CHUNK:
                yield rows
                rows = []
        yield rows

    DEAL_COLUMNS = tuple(
        (
            "id client_id owner_id created_by_id title product_line_id amount_minor currency "
            "stage expected_close_on lost_reason_id version last_activity_at closed_at "
            "created_at"
        ).split()
    )

    # -- contacts

    def interactions(self) -> Rows:
        rng, stamp = self.rng, self.stamp
        window = self.window(365)
        weights = list(itertools.accumulate(self.activity[m] for m in self.sales))
        kinds, kind_weights = zip(*KINDS, strict=True)
        kind_cumulative = list(itertools.accumulate(kind_weights))
        self.logged: dict[int, int] = {}
        interaction_id = 0
        total = self.size.interactions
        while interaction_id < total:
            k = min(CHUNK, total - interaction_id)
            authors = rng.choices(self.sales, cum_weights=weights, k=k)
            moments = self.moments(window, k)
            chosen = rng.choices(kinds, cum_weights=kind_cumulative, k=k)
            rows = []
            for author, moment, kind in zip(authors, moments, chosen, strict=True):
                interaction_id += 1
                client_id, moment = self.client_before(author, moment)
                deals = self.client_deals.get(client_id)
                deal_id = rng.choice(deals) if deals and rng.random() < 0.25 else None
                next_step = due = None
                if rng.random() < 0.2:
                    next_step, due = "Перезвонить", stamp(moment + rng.uniform(1, 10) * DAY)
                self.logged[author] = self.logged.get(author, 0) + 1
                rows.append(
                    (
                        interaction_id,
                        client_id,
                        author,
                        kind,
                        stamp(moment),
                        SUMMARIES[interaction_id % len(SUMMARIES)],
                        next_step,
                        due,
                        deal_id,
                        stamp(moment + rng.uniform(0, 600)),
                    )
                )
            yield rows

    INTERACTION_COLUMNS = tuple(
        (
            "id client_id author_id kind occurred_at summary next_step next_step_due_at "
            "deal_id created_at"
        ).split()
    )

    # -- complaints

    def complaints(self) -> Rows:
        rng, stamp = self.rng, self.stamp
        n = self.size.complaints
        window = self.window(365)
        moments = self.moments(window, n)
        categories = self.pick(ReferenceKind.COMPLAINT_CATEGORY, n)
        lines = self.pick(ReferenceKind.PRODUCT_LINE, n)
        severities = rng.choices(tuple(SLA_HOURS), (35, 40, 20, 5), k=n)
        self.resolved: list[tuple[int, int, float, int | None]] = []  # id, client, when, line
        queues = list(self.service)
        rows = []
        for index in range(n):
            complaint_id, created = index + 1, moments[index]
            owner = rng.choice(self.sales)
            client_id, created = self.client_before(owner, created)
            severity = severities[index]
            sla = SLA_HOURS[severity] * 3600
            due = created + sla
            queue = queues[client_id % len(queues)]
            assignee = rng.choice(self.service[queue]) if rng.random() < 0.85 else None
            line = lines[index] if rng.random() < 0.6 else None
            took = rng.lognormvariate(math.log(sla * 0.55), 0.8)
            status, resolved, closed = "open", None, None
            if rng.random() < 0.04:
                status, closed = "rejected", min(created + took, self.now - 60)
            elif created + took < self.now:
                resolved = created + took
                status = "resolved"
                if rng.random() < 0.7 and resolved + 2 * DAY < self.now:
                    status, closed = "closed", resolved + 2 * DAY
                self.resolved.append((complaint_id, client_id, resolved, line))
            elif rng.random() < 0.6:
                status = "in_progress"
            late = due < (resolved or closed or self.now)
            rows.append(
                (
                    complaint_id,
                    client_id,
                    categories[index],
                    line,
                    severity,
                    "Клиент недоволен: подробности в карточке",
                    status,
                    owner,
                    queue,
                    assignee,
                    stamp(due),
                    stamp(due + 600) if late else None,
                    "Заменили, извинились" if resolved else None,
                    stamp(resolved) if resolved else None,
                    stamp(closed) if closed else None,
                    rng.randint(2, 5),
                    stamp(created),
                )
            )
        yield rows

    COMPLAINT_COLUMNS = tuple(
        (
            "id client_id category_id product_line_id severity description status "
            "reporter_id department_id assignee_id sla_due_at escalated_at resolution "
            "resolved_at closed_at version created_at"
        ).split()
    )

    # -- surveys

    def surveys(self) -> Rows:
        rng, stamp = self.rng, self.stamp
        window = self.window(365)
        won = [deal for deal in self.won_deals if deal[1] in self.chat_of]
        resolved = [c for c in self.resolved if c[1] in self.chat_of]
        chats = list(self.chat_of)
        survey_id = answered = 0
        rows = []
        while answered < self.size.answers:
            survey_id += 1
            roll = rng.random()
            deal_id = complaint_id = line = None
            if roll < 0.45 and won:
                trigger = "deal_won"
                deal_id, client_id, moment, line = rng.choice(won)
                sent = moment + rng.uniform(1, 48) * 3600
            elif roll < 0.6 and resolved:
                trigger = "complaint_resolved"
                complaint_id, client_id, moment, line = rng.choice(resolved)
                sent = moment + rng.uniform(1, 24) * 3600
            else:
                trigger = "periodic"
                client_id, sent = rng.choice(chats), self.moments(window, 1)[0]
            if sent >= self.now or sent < self.now - 365 * DAY:
                continue
            kind = "csat" if trigger == "complaint_resolved" or rng.random() < 0.2 else "nps"
            status, score, answered_at, alerted, closed = "expired", None, None, None, None
            sent_at: float | None = sent
            skip = None
            fresh = sent + 7 * DAY > self.now
            if rng.random() < 0.03:
                status, sent_at, skip = "skipped", None, "asked_recently"
            elif rng.random() < (0.45 if fresh else 0.66):
                status, answered = "answered", answered + 1
                answered_at = min(sent + rng.lognormvariate(math.log(3 * 3600), 1.0), self.now)
                if kind == "nps":
                    score = rng.choices(range(11), NPS_WEIGHTS)[0]
                    low = score <= 6
                else:
                    score = rng.choices(range(1, 6), CSAT_WEIGHTS)[0]
                    low = score <= 2
                if low:
                    alerted = answered_at + 60
                    if rng.random() < 0.6:
                        closed = alerted + rng.lognormvariate(math.log(20 * 3600), 0.8)
                        closed = closed if closed < self.now else None
            elif fresh:
                status = "sent"
            owner = self.client_owner[client_id - 1]
            rows.append(
                (
                    survey_id,
                    f"{trigger}:{survey_id}",
                    kind,
                    trigger,
                    status,
                    client_id,
                    self.chat_of[client_id],
                    owner,
                    deal_id,
                    complaint_id,
                    line,
                    stamp(sent - 300),
                    stamp(sent_at) if sent_at else None,
                    stamp(sent + 7 * DAY) if sent_at else None,
                    score,
                    "Долго везли" if alerted and rng.random() < 0.3 else None,
                    stamp(answered_at) if answered_at else None,
                    skip,
                    stamp(alerted) if alerted else None,
                    stamp(closed) if closed else None,
                    stamp(sent - 300),
                )
            )
            if len(rows) == CHUNK:
                yield rows
                rows = []
        yield rows

    SURVEY_COLUMNS = tuple(
        (
            "id touchpoint kind trigger status client_id chat_id owner_id deal_id "
            "complaint_id product_line_id scheduled_at sent_at expires_at score comment "
            "answered_at skip_reason alerted_at loop_closed_at created_at"
        ).split()
    )

    # -- tasks

    def tasks(self) -> Rows:
        rng, stamp = self.rng, self.stamp
        weights = list(itertools.accumulate(self.activity[m] for m in self.sales))
        owners = rng.choices(self.sales, cum_weights=weights, k=self.size.tasks)
        rows = []
        for index, owner in enumerate(owners):
            midnight = self.midnight + rng.randint(-180, 30) * DAY
            due = midnight + WORK_START + rng.random() * WORK_SPAN
            client_id = self.client_before(owner, due)[0] if rng.random() < 0.8 else None
            status, done = "open", None
            if due < self.now:
                roll = rng.random()
                if roll < 0.88:
                    status, done = "done", due - rng.uniform(0, 48) * 3600
                elif roll < 0.92:
                    status = "cancelled"
            rows.append(
                (
                    index + 1,
                    owner,
                    TASK_TEXTS[index % len(TASK_TEXTS)],
                    stamp(due),
                    status,
                    client_id,
                    stamp(due) if due < self.now else None,
                    stamp(done) if done else None,
                    stamp(due - rng.uniform(0.5, 10) * DAY),
                )
            )
        for start in range(0, len(rows), CHUNK):
            yield rows[start : start + CHUNK]

    TASK_COLUMNS = tuple(
        "id owner_id text due_at status client_id reminded_at done_at created_at".split()
    )

    # -- plans: a little above what each manager sold in an average month of the year

    def plans(self) -> Rows:
        rng, stamp = self.rng, self.stamp
        current = month_key(self.now)
        months = [shift_month(current, -n) for n in range(12, -1, -1)]
        rows: list[tuple[Any, ...]] = []
        by_department: dict[tuple[int, str], list[int]] = {}
        for manager in self.sales:
            revenue = sum(self.won.get((manager, m), (0, 0))[0] for m in months[:-1]) / 12
            deals = sum(self.won.get((manager, m), (0, 0))[1] for m in months[:-1]) / 12
            logged = self.logged.get(manager, 0) / 12
            for month in months:
                stretch = rng.uniform(0.95, 1.3)
                plan = (
                    round(revenue * stretch / 1_000_000) * 1_000_000,
                    math.ceil(deals * stretch),
                    math.ceil(logged * stretch),
                )
                rows.append((len(rows) + 1, month, "user", manager, *plan, 1, stamp(self.now)))
                figures = by_department.setdefault((self.department_of[manager], month), [0, 0, 0])
                for i, value in enumerate(plan):
                    figures[i] += value
        for (department_id, month), plan in sorted(by_department.items()):
            rows.append(
                (len(rows) + 1, month, "department", department_id, *plan, 1, stamp(self.now))
            )
        yield rows

    PLAN_COLUMNS = tuple(
        (
            "id month subject subject_id revenue_minor deals_won interactions set_by_id updated_at"
        ).split()
    )

    def tables(self) -> Iterator[tuple[str, tuple[str, ...], Callable[[], Rows]]]:
        """Big tables in an order that keeps foreign keys satisfied."""
        yield "clients", self.CLIENT_COLUMNS, self.clients
        yield "client_chats", self.CHAT_COLUMNS, self.client_chats
        yield "deals", self.DEAL_COLUMNS, self.deals
        yield "interactions", self.INTERACTION_COLUMNS, self.interactions
        yield "complaints", self.COMPLAINT_COLUMNS, self.complaints
        yield "surveys", self.SURVEY_COLUMNS, self.surveys
        yield "tasks", self.TASK_COLUMNS, self.tasks
        yield "plans", self.PLAN_COLUMNS, self.plans


# ----------------------------------------------------------------------------------- loaders


LAST_CONTACT = (
    "UPDATE clients SET last_contact_at = (SELECT max(occurred_at) FROM interactions "
    "WHERE interactions.client_id = clients.id)"
)


class SqliteLoader:
    """Bulk inserts for the build only: no journal, no fsync, a big cache; each table's indexes
    dropped while it is filled and created again after, in one transaction per table."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            "cache_size=-262144",
            "temp_store=MEMORY",
            "locking_mode=EXCLUSIVE",
        ):
            self.db.execute(f"PRAGMA {pragma}")

    @staticmethod
    def stamp(seconds: float) -> str:
        # SQLAlchemy's SQLite DATETIME format, microseconds always written
        return (NAIVE_EPOCH + timedelta(seconds=seconds)).isoformat(" ", "microseconds")

    @staticmethod
    def day(value: date) -> str:
        return value.isoformat()

    async def load(self, table: str, columns: tuple[str, ...], chunks: Rows) -> int:
        required = {
            name
            for _, name, _, notnull, default, pk in self.db.execute(f"PRAGMA table_info({table})")
            if notnull and default is None and not pk
        }
        if missing := required - set(columns):
            raise RuntimeError(f"the generator does not fill {table}: {sorted(missing)}")
        indexes = self.db.execute(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table,),
        ).fetchall()
        statement = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        )
        count = 0
        self.db.execute("BEGIN")
        for name, _ in indexes:
            self.db.execute(f'DROP INDEX "{name}"')
        for rows in chunks:
            self.db.executemany(statement, rows)
            count += len(rows)
        for _, sql in indexes:
            self.db.execute(sql)
        self.db.execute("COMMIT")
        return count

    async def execute(self, statement: str) -> None:
        self.db.execute(statement)

    async def close(self) -> None:
        self.db.execute("PRAGMA locking_mode=NORMAL")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.close()


class PostgresLoader:
    """COPY, each table's secondary indexes dropped while it is filled, foreign-key triggers
    off when the role may (the data is consistent by construction), VACUUM ANALYZE at the end
    as autovacuum would."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.db = connection

    @classmethod
    async def connect(cls, url: str) -> PostgresLoader:
        import asyncpg

        parsed = make_url(url)
        connection = await asyncpg.connect(
            user=parsed.username,
            password=parsed.password,
            host=parsed.host,
            port=parsed.port,
            database=parsed.database,
        )
        try:
            await connection.execute("SET session_replication_role = replica")
        except asyncpg.PostgresError:
            pass  # not a superuser: foreign keys are checked, the load is just slower
        return cls(connection)

    @staticmethod
    def stamp(seconds: float) -> datetime:
        return AWARE_EPOCH + timedelta(seconds=seconds)

    @staticmethod
    def day(value: date) -> date:
        return value

    async def load(self, table: str, columns: tuple[str, ...], chunks: Rows) -> int:
        indexes = await self.db.fetch(
            "SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = $1 AND t.relnamespace = 'public'::regnamespace "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)",
            table,
        )
        count = 0
        async with self.db.transaction():
            for index in indexes:
                await self.db.execute(f'DROP INDEX "{index["name"]}"')
            for rows in chunks:
                await self.db.copy_records_to_table(table, records=rows, columns=list(columns))
                count += len(rows)
            for index in indexes:
                await self.db.execute(index["definition"])
        await self.db.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )
        return count

    async def execute(self, statement: str) -> None:
        await self.db.execute(statement)

    async def close(self) -> None:
        # VACUUM too, as autovacuum soon would after a load: with ANALYZE alone the planner
        # misjudged a department's users and scanned a month of contacts (1 s instead of 18 ms).
        await self.db.execute("VACUUM ANALYZE")
        await self.db.close()


# ------------------------------------------------------------------------------------- build


def cache_path(size: Size) -> Path:
    return DATA / ("bench_kpi.sqlite3" if size is FULL else "bench_kpi_quick.sqlite3")


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def cached(url: str | None, size: Size) -> bool:
    """The data set of this size is there and complete (its marker is written last)."""
    errors: tuple[type[Exception], ...] = (sqlite3.Error, OSError)
    if url is not None:
        import asyncpg

        errors += (asyncpg.PostgresError,)
    try:
        if url is None:
            path = cache_path(size)
            if not path.exists():
                return False
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                found = db.execute("SELECT value FROM app_settings WHERE key = ?", (MARKER,))
                row = found.fetchone()
        else:
            loader = await PostgresLoader.connect(url)
            try:
                row = await loader.db.fetchrow(
                    "SELECT value FROM app_settings WHERE key = $1", MARKER
                )
            finally:
                await loader.db.close()
    except errors:
        return False
    return row is not None and row[0] == size.label


async def build(url: str | None, size: Size) -> None:
    """Generates the data set into a new SQLite file (moved into place when complete), or
    into the PostgreSQL database at `url` (its schema public dropped first)."""
    began = time.perf_counter()
    if url is None:
        DATA.mkdir(exist_ok=True)
        final = cache_path(size)
        path = final.with_suffix(".building")
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        target = sqlite_url(path)
    else:
        target = url
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await asyncio.to_thread(upgrade, target)
    loader_class = SqliteLoader if url is None else PostgresLoader
    world = World(size, loader_class.stamp, loader_class.day)

    engine = create_engine(target)
    async with create_session_factory(engine)() as session:
        # Core inserts (the tables, not the classes): Python-side defaults fill what is left
        # out, and an explicit None stays NULL (an ORM bulk insert would put the default)
        await session.execute(insert(Department.__table__), world.departments)
        await session.execute(insert(ReferenceItem.__table__), world.items)
        await session.execute(insert(User.__table__), world.users)
        await session.commit()
    if url is not None:
        async with engine.begin() as connection:
            for table in ("departments", "reference_items", "users"):
                await connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    await engine.dispose()

    loader: SqliteLoader | PostgresLoader
    loader = SqliteLoader(path) if url is None else await PostgresLoader.connect(url)
    for table, columns, rows in world.tables():
        started = time.perf_counter()
        count = await loader.load(table, columns, rows())
        print(f"  {table}: {count:,} rows, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    await loader.execute(LAST_CONTACT)
    await loader.execute(
        f"INSERT INTO app_settings (key, value) VALUES ('{MARKER}', '{size.label}')"
    )
    await loader.close()
    if url is None:
        path.replace(final)
    print(f"  built in {time.perf_counter() - began:.0f} s", file=sys.stderr)


# --------------------------------------------------------------------------------- measuring


@dataclass
class Result:
    name: str
    wall: list[float]
    cpu: list[float] | None  # the process's CPU time (all threads): what contention hides
    unit: str
    target: float | None = None
    note: str = ""  # printed under the table


class Stopwatch:
    """Wall time and the process's CPU time (aiosqlite's thread included), in ms."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    @contextlib.contextmanager
    def lap(self, keep: bool = True) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        if keep:
            self.wall.append((time.perf_counter() - wall) * 1000)
            self.cpu.append((time.process_time() - cpu) * 1000)

    def result(
        self, name: str, target: float | None = None, scale: float = 1, note: str = ""
    ) -> Result:
        unit = "ms" if scale == 1 else "s"
        wall = [value / scale for value in self.wall]
        return Result(name, wall, [value / scale for value in self.cpu], unit, target, note)


async def timed(
    sessions: async_sessionmaker[AsyncSession],
    rounds: int,
    call: Callable[[AsyncSession, int], Awaitable[object]],
) -> Stopwatch:
    """Each call in a new session, as the bot opens one per update, after a warm-up call."""
    watch = Stopwatch()
    for i in range(-1, rounds):
        async with sessions() as session:
            with watch.lap(keep=i >= 0):
                await call(session, i % rounds)
    return watch


async def rendered(rounds: int, item: Picture) -> Stopwatch:
    """As the bot draws: sent to the chart worker, the PNG back (after a warm-up)."""
    watch = Stopwatch()
    for i in range(-1, rounds):
        with watch.lap(keep=i >= 0):
            if await render.render(item) is None:
                raise RuntimeError("the chart had nothing to draw")
    return watch


@dataclass
class Cast:
    admin: User
    heads: list[User]  # every head, two per department
    sales: list[int]  # sales department ids
    managers: list[User]  # the active managers of the sales departments


async def cast(sessions: async_sessionmaker[AsyncSession]) -> Cast:
    async with sessions() as session:
        admin = await session.scalar(select(User).where(User.role == Role.ADMIN).limit(1))
        heads = await session.scalars(select(User).where(User.role == Role.HEAD).order_by(User.id))
        sales = await session.scalars(
            select(Department.id)
            .where(Department.kind == DepartmentKind.SALES)
            .order_by(Department.id)
        )
        sales = list(sales)
        managers = await session.scalars(
            select(User)
            .where(
                User.role == Role.MANAGER,
                User.is_active.is_(True),
                User.department_id.in_(sales),
            )
            .order_by(User.id)
        )
        assert admin is not None
        return Cast(admin, list(heads), sales, list(managers))


def head_of(people: Cast, department_id: int) -> User:
    return next(head for head in people.heads if head.department_id == department_id)


def bench_settings(url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token="123456:bench",
        database_url=url,
        default_locale="ru",
        default_timezone=TZ.key,
        default_currency=CURRENCY,
        stale_days=STALE_DAYS,
        redis_url=None,
    )


async def chart_inputs(
    sessions: async_sessionmaker[AsyncSession], people: Cast, month: Period, today: date
) -> tuple[Picture, Picture]:
    """A department's revenue-against-plan chart and a 25-manager leaderboard, from the real
    services."""
    department_id = people.sales[0]
    head = head_of(people, department_id)
    team = Slice(department_id=department_id)
    async with sessions() as session:
        by_day = await kpi.revenue_by_day(session, head, team, month, currency=CURRENCY)
        figures = await kpi.kpis(
            session, head, team, month, stale_days=STALE_DAYS, currency=CURRENCY, now=NOW
        )
        board = await kpi.breakdown(
            session, people.admin, WHOLE_COMPANY, month, Dimension.MANAGER, currency=CURRENCY
        )
    days = [day for day in by_day if day <= today]
    plan = figures.sales.plan
    footer = f"{month.first:%d.%m}–{month.last:%d.%m.%Y} · {head.full_name}"
    revenue = picture(
        Chart.REVENUE_VS_PLAN,
        days,
        list(itertools.accumulate(by_day[day] for day in days)),
        plan.plan.revenue_minor if plan and plan.plan else None,
        CURRENCY,
        "ru",
        "Выручка отдела против плана",
        footer,
        "План",
        "Факт",
    )
    rows = [(row.label, row.revenue_minor, row.plan_percent) for row in board]
    leaders = picture(
        Chart.LEADERBOARD,
        rows[:LEADERBOARD_ROWS],
        CURRENCY,
        "ru",
        "Лучшие менеджеры месяца",
        footer,
        "% плана",
    )
    return revenue, leaders


async def forget_digests(engine: AsyncEngine) -> None:
    """Back to the morning before: no digest sent today, nothing queued."""
    async with engine.begin() as connection:
        await connection.execute(update(User).values(digest_checked_on=None))
        await connection.execute(delete(OutboxMessage))


async def send_digests(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], heads: list[User] | None
) -> tuple[Stopwatch, int, int]:
    """One run of the scheduler's digest job at NOW (08:30 in Moscow, later in the eastern
    zones: every head is due), for all the heads or only `heads` (the others marked done)."""
    await forget_digests(engine)
    if heads is not None:
        async with engine.begin() as connection:
            await connection.execute(
                update(User)
                .where(User.id.not_in([head.id for head in heads]))
                .values(digest_checked_on=NOW.astimezone(TZ).date().isoformat())
            )
    settings = bench_settings(engine.url.render_as_string(hide_password=False))
    async with sessions() as session:
        due = len(await digest.users_due(session, NOW))
    watch = Stopwatch()
    with watch.lap():
        queued = await digest.send_digests(
            sessions, create_i18n(settings), FakeClock(NOW), settings
        )
    await forget_digests(engine)
    return watch, due, queued


async def morning(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], people: Cast, runs: int
) -> Result:
    """The whole morning run through bot.digest.send_digests: figures, texts, charts, the
    outbox rows. A first run for a sample of heads tells how long all of them would take;
    far over the target (DIGEST_PROJECTED_MAX_S), that projection is the result."""
    sample = people.heads[:: len(people.heads) // DIGEST_SAMPLE]
    probe, sampled, _ = await send_digests(engine, sessions, sample)
    factor = len(people.heads) / sampled
    if probe.wall[0] * factor / 1000 > DIGEST_PROJECTED_MAX_S:
        probe.wall = [value * factor for value in probe.wall]
        probe.cpu = [value * factor for value in probe.cpu]
        note = f"not run in full: projected from a run for {sampled} of the heads"
        name = f"morning digest run, {len(people.heads)} heads"
        return probe.result(name, TARGET_DIGEST_S, scale=1000, note=note)
    watch = Stopwatch()
    for _ in range(runs):
        run, due, queued = await send_digests(engine, sessions, None)
        watch.wall += run.wall
        watch.cpu += run.cpu
    name = f"morning digest run, {due} heads ({queued} messages)"
    return watch.result(name, TARGET_DIGEST_S, scale=1000)


async def company_digest(
    sessions: async_sessionmaker[AsyncSession], admin: User, settings: Settings
) -> Result:
    """An admin's digest, not sent: the company's figures, its text and its chart."""
    watch = Stopwatch()
    with create_i18n(settings).context():
        async with sessions() as session:
            with watch.lap():
                found = await digest.build(session, admin, NOW, settings)
                digest.digest_text(found, CURRENCY)
                await render.render(digest.digest_chart(found, CURRENCY).picture)
    return watch.result("(info) an admin's company digest, not sent", scale=1000)


async def measure(url: str, size: Size) -> list[Result]:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    people = await cast(sessions)
    today = NOW.astimezone(TZ).date()
    month = Period.of(PeriodKind.MONTH, today, TZ)
    rounds = size.rounds
    options = {"stale_days": STALE_DAYS, "currency": CURRENCY, "now": NOW}
    results = []

    def department_dashboard(session: AsyncSession, i: int) -> Awaitable[object]:
        department_id = people.sales[i % len(people.sales)]
        head = head_of(people, department_id)
        team = Slice(department_id=department_id)
        return kpi.dashboard(session, head, team, month, **options)

    def own_dashboard(session: AsyncSession, i: int) -> Awaitable[object]:
        manager = people.managers[i * 7 % len(people.managers)]
        return kpi.dashboard(session, manager, Slice(owner_id=manager.id), month, **options)

    def by_region(session: AsyncSession, _i: int) -> Awaitable[object]:
        return kpi.breakdown(
            session, people.admin, WHOLE_COMPANY, month, Dimension.REGION, currency=CURRENCY
        )

    def company_dashboard(session: AsyncSession, _i: int) -> Awaitable[object]:
        return kpi.dashboard(session, people.admin, WHOLE_COMPANY, month, **options)

    progress("dashboards and breakdowns")
    watch = await timed(sessions, rounds, department_dashboard)
    results.append(watch.result("department month dashboard", TARGET_DASHBOARD_MS))
    watch = await timed(sessions, rounds, by_region)
    results.append(watch.result("company breakdown by region, month", TARGET_BREAKDOWN_MS))
    watch = await timed(sessions, rounds, own_dashboard)
    results.append(watch.result("(info) a manager's own month dashboard"))
    watch = await timed(sessions, max(rounds // 3, 3), company_dashboard)
    results.append(watch.result("(info) company month dashboard"))

    progress("charts")
    revenue, leaders = await chart_inputs(sessions, people, month, today)
    render.stop()
    cold = Stopwatch()
    with cold.lap():
        await render.render(revenue)
    watch = await rendered(rounds, revenue)
    results.append(watch.result("chart: revenue vs plan", TARGET_CHART_MS))
    watch = await rendered(rounds, leaders)
    name = f"chart: leaderboard, {len(leaders.args[0])} managers"
    results.append(watch.result(name, TARGET_CHART_MS))
    results.append(cold.result("(info) a new worker's first chart, its start-up included"))

    progress("digests")
    heads = await morning(engine, sessions, people, size.digest_runs)
    results.append(heads)
    if heads.note:
        print("  (an admin's digest is not timed: the heads' are far over)", file=sys.stderr)
    else:
        results.append(await company_digest(sessions, people.admin, bench_settings(url)))
    await engine.dispose()
    worker = (await render.worker_status()).peak_mb
    render.stop()
    progress("done")
    bot = peak_rss_mb()
    results.append(Result("(info) memory after the imports", [IMPORTED_MB], None, "MB"))
    results.append(Result("peak memory: the bot's process", [bot], None, "MB", TARGET_MEMORY_MB))
    results.append(Result("(info) peak memory: the chart worker", [worker], None, "MB"))
    results.append(Result("(info) peak memory: both", [bot + worker], None, "MB"))
    return results


def current_rss_mb() -> float:
    """The resident set now (Linux), or the peak so far elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**10
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    return render.peak_memory_mb()


def progress(what: str) -> None:
    memory = f"{current_rss_mb():.0f} MB now, {peak_rss_mb():.0f} MB at most"
    print(f"  measuring: {what} ... ({memory})", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------- --explain


async def explain(url: str) -> None:
    """Every statement of one department dashboard, one company breakdown by region and one
    head's digest figures: its time and the database's plan, slowest first."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    people = await cast(sessions)
    month = Period.of(PeriodKind.MONTH, NOW.astimezone(TZ).date(), TZ)
    settings = bench_settings(url)
    seen: list[tuple[float, float, str, Any]] = []
    started: list[tuple[float, float]] = []

    def before(*_args: Any) -> None:
        started.append((time.perf_counter(), time.process_time()))

    def after(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        wall, cpu = started.pop()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        seen.append((wall * 1000, cpu * 1000, statement, parameters))

    department_id = people.sales[0]
    head = head_of(people, department_id)
    options = {"stale_days": STALE_DAYS, "currency": CURRENCY, "now": NOW}
    calls: list[tuple[str, Callable[[AsyncSession], Awaitable[object]]]] = [
        (
            "department month dashboard",
            lambda s: kpi.dashboard(s, head, Slice(department_id=department_id), month, **options),
        ),
        (
            "company breakdown by region",
            lambda s: kpi.breakdown(
                s, people.admin, WHOLE_COMPANY, month, Dimension.REGION, currency=CURRENCY
            ),
        ),
        ("a head's digest figures", lambda s: digest.build(s, head, NOW, settings)),
    ]
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    i18n = create_i18n(settings)
    for title, call in calls:
        with i18n.context():
            async with sessions() as session:
                await call(session)  # warm-up
            seen.clear()
            event.listen(engine.sync_engine, "before_cursor_execute", before)
            event.listen(engine.sync_engine, "after_cursor_execute", after)
            async with sessions() as session:
                began = time.perf_counter(), time.process_time()
                await call(session)
                wall = (time.perf_counter() - began[0]) * 1000
                cpu = (time.process_time() - began[1]) * 1000
            event.remove(engine.sync_engine, "before_cursor_execute", before)
            event.remove(engine.sync_engine, "after_cursor_execute", after)
        statements = list(seen)
        print(f"\n=== {title}: {wall:.1f} ms ({cpu:.1f} ms CPU), {len(statements)} statements")
        async with engine.connect() as connection:
            for wall, cpu, statement, parameters in sorted(statements, key=lambda s: -s[1]):
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                plan = await connection.exec_driver_sql(prefix + statement, parameters)
                print(f"\n--- {wall:.1f} ms ({cpu:.1f} ms CPU)\n{statement}\n{parameters}")
                print("\n".join(f"    {row[-1]}" for row in plan))
    await engine.dispose()


# ------------------------------------------------------------------------------------- table


def number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def table(results: list[Result]) -> str:
    header = ("measurement", "n", "median", "min", "max", "CPU", "unit", "target", "")
    cells = [header]
    for result in results:
        median = statistics.median(result.wall)
        verdict = ""
        if result.target is not None:
            verdict = "PASS" if median < result.target else f"over ({median / result.target:.1f}×)"
        cells.append(
            (
                result.name,
                str(len(result.wall)),
                number(median),
                number(min(result.wall)),
                number(max(result.wall)),
                number(statistics.median(result.cpu)) if result.cpu else "",
                result.unit,
                f"< {number(result.target)}" if result.target is not None else "",
                verdict,
            )
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = {1, 2, 3, 4, 5, 7}
    lines = [
        "  ".join(
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


async def counts(url: str) -> str:
    engine = create_engine(url)
    parts = []
    async with create_session_factory(engine)() as session:
        for label, model in (
            ("clients", Client),
            ("contacts", Interaction),
            ("deals", Deal),
        ):
            found = await session.scalar(select(func.count()).select_from(model))
            parts.append(f"{found:,} {label}")
    await engine.dispose()
    return ", ".join(parts)


# -------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kpi", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the data, fewer rounds")
    parser.add_argument("--rebuild", action="store_true", help="generate the data set again")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run on PostgreSQL, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/bench_kpi "
        "(the data set is kept there too: its schema public is DROPPED when it is built)",
    )
    parser.add_argument("--explain", action="store_true", help="print statements and plans")
    parser.add_argument("--build", metavar="URL", help=argparse.SUPPRESS)  # in a child process
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)  # in a child process
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    quick = ["--quick"] * args.quick

    if args.build:
        asyncio.run(build(None if args.build == "sqlite" else args.build, size))
        return 0
    if args.measure:
        return measure_one(args.measure, size)
    targets = [sqlite_url(cache_path(size))] + [args.postgres] * bool(args.postgres)
    for url in targets:
        postgres = None if url.startswith("sqlite") else url
        build_command = [sys.executable, "-m", "bench.kpi", "--build", postgres or "sqlite"]
        if args.rebuild or not asyncio.run(cached(postgres, size)):
            print(f"building the {size.name} data set in {postgres or cache_path(size)} ...")
            subprocess.run(build_command + quick, check=True)
        try:
            upgrade(url)  # migrations newer than the data set
        except Exception as error:  # e.g. migrations renumbered since it was built
            print(f"the data set does not migrate ({error.__class__.__name__}): building it again")
            subprocess.run(build_command + quick, check=True)
        if args.explain:
            asyncio.run(explain(url))
            continue
        # Each database in a process of its own: the peak memory is that run's alone.
        command = [sys.executable, "-m", "bench.kpi", "--measure", url]
        subprocess.run(command + quick, check=True)
    return 0


IMPORTED_MB = current_rss_mb()  # every module of the bot is loaded, aiogram's models the most


def measure_one(url: str, size: Size) -> int:
    database = make_url(url).get_backend_name()
    print(f"{database}: {asyncio.run(counts(url))}; NOW = {NOW:%Y-%m-%d %H:%M} UTC")
    results = asyncio.run(measure(url, size))
    print(f"\n{database}, {size.name} data set ({size.label})\n")
    print(table(results))
    for result in results:
        if result.note:
            print(f"{result.name}: {result.note}")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
