"""Data access: small classes built with a session. No business rules, no Telegram."""

from db.repositories.audit import AuditRepository
from db.repositories.catalog import DepartmentRepository, ReferenceRepository
from db.repositories.clients import ClientRepository
from db.repositories.invites import InviteRepository
from db.repositories.users import UserRepository

__all__ = [
    "AuditRepository",
    "ClientRepository",
    "DepartmentRepository",
    "InviteRepository",
    "ReferenceRepository",
    "UserRepository",
]
