"""Who may do what to which object: the one question every page, API and service asks.

Each app lists its permissions in its own `rules.py` (`requests/rules.py`, `vendors/rules.py`,
...), which django-rules imports at start-up (`rules.apps.AutodiscoverRulesConfig` in
INSTALLED_APPS); a lower app cannot import a higher one, so the apps cannot all register in
this module. Read the `rules.py` files, or the table in docs/security.md ("Who may do what",
checked against them by tests/test_it_checks_permissions_by_role_object_and_action.py).

A permission is named `<app>.<action>_<model>` ("requests.approve_purchaserequest") and is a
predicate over (user, object), built from the small named predicates below. Ask it with
`allowed(user, perm, obj)` or `require(...)`; the old helpers (`vendor_may_manage`,
`po_may_see`, ...) are kept as names that call `allowed`, so the rule lives in one place.

Why not `user.has_perm(perm, obj)`: Django answers True to every permission of an active
superuser before any backend is asked, and the model backend answers permissions of the
same name granted in the admin. Our rules hold for superusers too (no one approves their own
request), so `allowed` asks the rules and nothing else.

Two rules hold for every permission, whatever an app registers (`add`):
- an anonymous or deactivated account may do nothing;
- list pages and APIs (selectors' `*_visible_to` querysets) show exactly the objects whose
  `view_*` permission holds; the matrix test checks the two agree for every role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import rules
from rules.predicates import Predicate

from procurement.errors import NotAllowed, NotFound

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from procurement.models import User


# --- Shared predicates ------------------------------------------------------------------


@rules.predicate
def is_active_user(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active)


def has_role(*roles: str) -> Predicate:
    """Holds one of `roles` (an admin's superuser flag counts as the admin role)."""
    names = ",".join(sorted(str(role) for role in roles))

    def check(user: User) -> bool:
        return bool(user.is_authenticated and user.has_role(*roles))

    return Predicate(check, name=f"has_role({names})")


def is_user_field(field: str) -> Predicate:
    """The object's `field` (a foreign key to a user, e.g. "owner") is the user."""

    def check(user: User, obj: Any) -> bool:
        return obj is not None and getattr(obj, f"{field}_id") == user.pk

    return Predicate(check, name=f"is_{field}")


def visible_in(queryset_for: Callable[[User], Any], name: str) -> Predicate:
    """The object is among those `queryset_for(user)` returns: the list's own rule, so a
    page that lists objects and the permission to open one cannot disagree."""

    def check(user: User, obj: Any) -> bool:
        return obj is not None and queryset_for(user).filter(pk=obj.pk).exists()

    return Predicate(check, name=name)


@rules.predicate
def no_object(user: User, obj: Any) -> bool:
    """Asked without an object: "may this person do this to any object of the kind?"."""
    return obj is None


# --- Registering and asking ---------------------------------------------------------------

# Every permission registered through `add`, in order, with a sentence for the docs.
REGISTERED: dict[str, str] = {}


def add(perm: str, predicate: Predicate, *, means: str) -> None:
    """Register `perm` as `predicate`, for active accounts only. `means` says in words who
    may (docs/security.md). Registering again replaces it (ready() may run twice)."""
    rules.set_perm(perm, is_active_user & predicate)
    REGISTERED[perm] = means


def allowed(user: User | AnonymousUser, perm: str, obj: Any = None) -> bool:
    """May `user` do `perm` to `obj` (or, without `obj`, to such objects at all)?

    An unknown permission name is a programming error: it raises instead of answering False
    (a typo would otherwise deny everyone silently, or a test would pass for the wrong reason).
    """
    if not rules.perm_exists(perm):
        raise LookupError(f"No permission {perm!r} is registered (see procurement/permissions.py).")
    return bool(rules.has_perm(perm, user, obj))


def require(
    user: User | AnonymousUser, perm: str, obj: Any = None, *, message: str, hide: bool = False
) -> None:
    """Raise unless `allowed`: NotAllowed (403) with `message`, or NotFound (404) when `hide`,
    for an object the user may not even see (its existence is not confirmed)."""
    if not allowed(user, perm, obj):
        raise NotFound(message) if hide else NotAllowed(message)


def fsm_permission(perm: str) -> Callable[[Any, Any], bool]:
    """A django-fsm `permission=` that asks `perm` of (instance, user)."""

    def check(instance: Any, user: Any) -> bool:
        return allowed(user, perm, instance)

    check.__name__ = perm
    return check
