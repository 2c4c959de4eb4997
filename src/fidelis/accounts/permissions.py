"""Who may do what: one table of capabilities per role, and object visibility rules.

Every view and API route names the capability it needs (see `fidelis.accounts.decorators` and
`fidelis.accounts.api_auth`); the permission-matrix test walks every route against this table.
"""

from fidelis.accounts.errors import AccountCode
from fidelis.accounts.models import Role
from fidelis.core.errors import PermissionDenied

R, S, M, SV, MG = Role.READONLY, Role.SALES, Role.MARKETING, Role.SERVICE, Role.MANAGER
ALL = frozenset({R, S, M, SV, MG})

CAPABILITIES: dict[str, frozenset[str]] = {
    "customer.view": ALL,
    "customer.add": frozenset({S, M, SV, MG}),
    "customer.change": frozenset({S, M, SV, MG}),
    "customer.consent": frozenset({S, M, SV, MG}),
    "customer.import": frozenset({M, MG}),
    "customer.export": frozenset({M, MG}),
    "customer.merge": frozenset({M, MG}),
    "customer.cleanup": frozenset({M, MG}),
    "customer.privacy": frozenset({MG}),
    "tag.manage": frozenset({M, MG}),
    "event.add": frozenset({S, M, SV, MG}),
    "loyalty.view": ALL,
    "loyalty.operate": frozenset({S, M, SV, MG}),
    "loyalty.design": frozenset({M, MG}),
    "loyalty.adjust": frozenset({MG}),
    "product.manage": frozenset({M, MG}),
    "order.view": ALL,
    "order.add": frozenset({S, SV, MG}),
    "order.refund": frozenset({S, SV, MG}),
    "order.import": frozenset({M, MG}),
    "opportunity.view": frozenset({R, S, M, MG}),
    "opportunity.change": frozenset({S, MG}),
    "contract.view": frozenset({R, S, M, MG}),
    "contract.change": frozenset({S, MG}),
    "pipeline.manage": frozenset({MG}),
    "report.sales": frozenset({R, S, M, MG}),
    "task.view": ALL,
    "task.change": frozenset({S, M, SV, MG}),
    "task.rules": frozenset({MG}),
    "touchpoint.view": ALL,
    "touchpoint.manage": frozenset({M, MG}),
    "audit.view": frozenset({MG}),
    "user.manage": frozenset({MG}),
    "token.manage": frozenset({MG}),
    "webhook.manage": frozenset({MG}),
}


def role_has(role: str, capability: str) -> bool:
    """Return whether the role grants the capability."""
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")
    return role in CAPABILITIES[capability]


def signed_in(user) -> bool:
    """Return whether the user is signed in and may act (an active account)."""
    return getattr(user, "is_authenticated", False) and user.is_active


def has_capability(user, capability: str) -> bool:
    """Return whether the user's role grants the capability."""
    granted = role_has(getattr(user, "effective_role", None), capability)  # an unknown capability raises
    return granted and signed_in(user)


def capability_check(actor, capability: str, message: str) -> None:
    """Refuse with the message unless the actor's role grants the capability (no actor: a system job, allowed)."""
    if actor is not None and not has_capability(actor, capability):
        raise PermissionDenied(message, code=AccountCode.FORBIDDEN)


def sees_all_customers(user) -> bool:
    """Return whether the user sees every customer (sales reps see their own and unassigned ones)."""
    return user.effective_role != Role.SALES


def may_change_customer(user, customer) -> bool:
    """Return whether the user may change this customer (sales reps: only their own or unassigned)."""
    if not has_capability(user, "customer.change"):
        return False
    if user.effective_role == Role.SALES:
        return customer.owner_id in (None, user.pk)
    return True
