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
    WORK_HANDED_OVER = "work_handed_over"  # offboarding: details hold the counts moved
    CLIENT_ERASED = "client_erased"  # personal data erased on request; details hold counts
    IMPORT = "import"  # clients imported from a file; details hold the counts and its hash
    EXPORTED = "exported"  # object_type: what (clients, deals, ..., audit); details: period, rows
    EXPORT_LIMIT_HIT = "export_limit_hit"
    LIMIT_HIT = "limit_hit"  # a quota against copying crossed; details: kind, period, limit
    DEPARTMENT_ADDED = "department_added"
    DEPARTMENT_RENAMED = "department_renamed"
    REFERENCE_ADDED = "reference_added"
    REFERENCE_RENAMED = "reference_renamed"
