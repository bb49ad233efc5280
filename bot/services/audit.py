"""Names of audited actions, so reports and tests spell them one way."""

from enum import StrEnum


class AuditAction(StrEnum):
    BOOTSTRAP_ADMIN = "bootstrap_admin"
    INVITE_CREATED = "invite_created"
    INVITE_REDEEMED = "invite_redeemed"
    ROLE_CHANGED = "role_changed"
    USER_DEACTIVATED = "user_deactivated"
    USER_REACTIVATED = "user_reactivated"
    CLIENT_REASSIGNED = "client_reassigned"
    DEPARTMENT_ARCHIVED = "department_archived"
    DEPARTMENT_RESTORED = "department_restored"
    REFERENCE_ARCHIVED = "reference_archived"
    REFERENCE_RESTORED = "reference_restored"
    SETTING_CHANGED = "setting_changed"
    PLAN_SET = "plan_set"
