"""Who may do what. Every service call checks here; callback data is never trusted."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, select, true

from bot.services.errors import AccessDenied
from db.models import Client, Role, User


def require_role(actor: User, *roles: Role) -> None:
    if not actor.is_active or actor.role not in roles:
        raise AccessDenied()


def require_staff_manager(actor: User) -> None:
    """Admins and heads manage people (invites, the team list)."""
    require_role(actor, Role.ADMIN, Role.HEAD)


def visible_users(actor: User) -> ColumnElement[bool]:
    """Users the actor may see: everyone for admins, their department for heads, themselves."""
    if actor.role is Role.ADMIN:
        return true()
    if actor.role is Role.HEAD and actor.department_id is not None:
        return User.department_id == actor.department_id
    return User.id == actor.id if actor.id is not None else false()


def can_invite(actor: User, role: Role, department_id: int | None) -> bool:
    if actor.role is Role.ADMIN:
        return True
    return (
        actor.role is Role.HEAD
        and role is Role.MANAGER
        and department_id is not None
        and department_id == actor.department_id
    )


def can_manage(actor: User, target: User) -> bool:
    """Deactivate or reactivate: admins anyone but themselves, heads their own managers."""
    if actor.id == target.id:
        return False
    if actor.role is Role.ADMIN:
        return True
    return (
        actor.role is Role.HEAD
        and target.role is Role.MANAGER
        and target.department_id is not None
        and target.department_id == actor.department_id
    )


def visible_clients(actor: User) -> ColumnElement[bool]:
    """Clients the actor may see and edit: their own; a head's department's; all for admins."""
    if actor.role is Role.ADMIN:
        return true()
    if actor.role is Role.HEAD and actor.department_id is not None:
        team = select(User.id).where(User.department_id == actor.department_id)
        return Client.owner_id.in_(team.scalar_subquery())
    return Client.owner_id == actor.id
