from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEntry


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(
        self,
        actor_id: int | None,
        action: str,
        object_type: str,
        object_id: int | None,
        **details: Any,
    ) -> None:
        self.session.add(
            AuditEntry(
                actor_id=actor_id,
                action=action,
                object_type=object_type,
                object_id=object_id,
                details=details,
            )
        )
