"""Survey figures for the KPIs (NPS, CSAT, response rate, loops closed), checked against numbers
worked out by hand from a fixed set of surveys, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.parsing import normalize_name, search_key
from bot.services.slices import Slice
from bot.services.surveys import SurveyFigures, figures
from db.models import (
    Client,
    ClientChat,
    ClientKind,
    Department,
    DepartmentKind,
    ReferenceItem,
    ReferenceKind,
    Role,
    Survey,
    SurveyKind,
    SurveyStatus,
    SurveyTrigger,
    User,
)

NOVEMBER = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
async def data(session: AsyncSession) -> dict[str, int]:
    d1 = Department(name="D1", kind=DepartmentKind.SALES)
    d2 = Department(name="D2", kind=DepartmentKind.SALES)
    p1 = ReferenceItem(kind=ReferenceKind.PRODUCT_LINE, name="P1")
    r1 = ReferenceItem(kind=ReferenceKind.REGION, name="R1")
    r2 = ReferenceItem(kind=ReferenceKind.REGION, name="R2")
    session.add_all([d1, d2, p1, r1, r2])
    await session.flush()
    m1, m2 = (
        User(
            telegram_id=telegram_id,
            full_name=name,
            role=Role.MANAGER,
            department_id=department.id,
            locale="en",
            timezone="UTC",
        )
        for telegram_id, name, department in ((11, "M1", d1), (12, "M2", d2))
    )
    session.add_all([m1, m2])
    await session.flush()
    c1, c2 = (
        Client(
            name=name,
            name_key=normalize_name(name),
            search_text=search_key(name),
            kind=ClientKind.COMPANY,
            owner_id=owner.id,
            region_id=region.id,
        )
        for name, owner, region in (("C1", m1, r1), ("C2", m2, r2))
    )
    session.add_all([c1, c2])
    await session.flush()
    ch1, ch2 = (
        ClientChat(
            telegram_id=telegram_id,
            client_id=client.id,
            name="x",
            locale="en",
            consented_at=at(9, 1),
        )
        for telegram_id, client in ((901, c1), (902, c2))
    )
    session.add_all([ch1, ch2])
    await session.flush()
    chats = {c1.id: ch1.id, c2.id: ch2.id}
    number = iter(range(1, 100))

    def survey(client, kind, sent, status, score=None, line=None, alerted=None, closed=None):
        return Survey(
            touchpoint=f"test:{next(number)}",
            kind=kind,
            trigger=SurveyTrigger.PERIODIC,
            status=status,
            client_id=client.id,
            chat_id=chats[client.id],
            owner_id=client.owner_id,
            product_line_id=line.id if line else None,
            scheduled_at=sent or at(11, 20),
            sent_at=sent,
            score=score,
            answered_at=sent if status is SurveyStatus.ANSWERED else None,
            alerted_at=alerted,
            loop_closed_at=closed,
        )

    NPS, CSAT, A = SurveyKind.NPS, SurveyKind.CSAT, SurveyStatus.ANSWERED
    session.add_all(
        [
            survey(c1, NPS, at(11, 2), A, 10),  # 1: promoter
            survey(c1, NPS, at(11, 3), A, 9),  # 2: promoter
            # 3: detractor, loop closed 23 h after the alert
            survey(c2, NPS, at(11, 4), A, 5, alerted=at(11, 4, 10), closed=at(11, 5, 9)),
            survey(c2, NPS, at(11, 5), A, 7),  # 4: passive
            # 5: unhappy, loop closed 72 h after the alert: too late to count
            survey(c1, CSAT, at(11, 6), A, 2, alerted=at(11, 6, 12), closed=at(11, 9, 12)),
            survey(c2, CSAT, at(11, 7), A, 5, line=p1),  # 6
            survey(c1, CSAT, at(11, 8), A, 4, line=p1),  # 7
            survey(c1, NPS, at(11, 9), SurveyStatus.SENT),  # 8: not answered yet
            survey(c2, NPS, at(11, 10), SurveyStatus.EXPIRED),  # 9
            survey(c1, NPS, at(10, 30), A, 0),  # 10: sent in October
            survey(c2, NPS, None, SurveyStatus.SCHEDULED),  # 11: not sent
        ]
    )
    await session.commit()
    return {"m1": m1.id, "d2": d2.id, "p1": p1.id, "r2": r2.id}


async def test_company_survey_figures(session: AsyncSession, data: dict[str, int]):
    # Sent 1–9, answered 1–7. NPS: 2 promoters, 1 detractor of 4 → 25. CSAT 2, 5, 4.
    assert await figures(session, *NOVEMBER) == SurveyFigures(
        sent=9,
        answered=7,
        response_rate=7 / 9,
        nps=25.0,
        nps_answers=4,
        csat_average=3.67,
        csat_satisfied=2 / 3,
        csat_answers=3,
        alerts=2,
        loops_closed_48h=1,
    )


async def test_survey_figures_by_manager(session: AsyncSession, data: dict[str, int]):
    # M1: 1, 2, 5, 7, 8 sent; NPS 10, 9 → 100; CSAT 2, 4 → 3.0, half satisfied.
    assert await figures(session, *NOVEMBER, slice=Slice(owner_id=data["m1"])) == SurveyFigures(
        5, 4, 0.8, 100.0, 2, 3.0, 0.5, 2, 1, 0
    )


async def test_survey_figures_by_department_and_region(session: AsyncSession, data: dict[str, int]):
    # D2 (M2, whose client is in R2): 3, 4, 6, 9 sent; NPS 5, 7 → −50; CSAT 5.
    expected = SurveyFigures(4, 3, 0.75, -50.0, 2, 5.0, 1.0, 1, 1, 1)
    assert await figures(session, *NOVEMBER, slice=Slice(department_id=data["d2"])) == expected
    assert await figures(session, *NOVEMBER, slice=Slice(region_id=data["r2"])) == expected


async def test_survey_figures_by_product_line(session: AsyncSession, data: dict[str, int]):
    assert await figures(
        session, *NOVEMBER, slice=Slice(product_line_id=data["p1"])
    ) == SurveyFigures(2, 2, 1.0, None, 0, 4.5, 1.0, 2, 0, 0)
