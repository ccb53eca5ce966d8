"""Who may call which route: every route declares it in its decorator, and only there.

    @router.get("/indicators", dependencies=[requires(*READERS)])
    @router.get("/healthz", dependencies=[public()])

`requires` answers 401 without a valid token and 403 when the token's role is not listed. A test walks
every route of the app with every role, so a route without a declaration fails it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI
from fastapi import routing as fastapi_routing
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from ..auth.roles import Principal, Role
from .deps import CurrentUser
from .problems import Problem

__all__ = ["AUDITORS", "EVERYONE", "PUSHERS", "READERS", "WRITERS", "MountedRoute", "mounted_routes", "public",
           "requires", "route_roles"]

# The role groups routes use (see engmetrics.auth.roles for what each role is for).
READERS = (Role.viewer, Role.team_member, Role.manager, Role.auditor, Role.metrics_admin)
EVERYONE = READERS
AUDITORS = (Role.auditor, Role.metrics_admin)  # raw (quarantined) rows, the token list
WRITERS = (Role.metrics_admin,)  # ingest, token management
PUSHERS = (Role.telemetry_pusher, Role.metrics_admin)  # the telemetry push receivers and their status


class RoleCheck:
    """The dependency `requires(...)` installs; its `roles` are read by `route_roles`."""

    def __init__(self, roles: Iterable[Role]) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, user: CurrentUser) -> Principal:  # async: no thread-pool hop for a comparison
        if user.role not in self.roles:
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise Problem(403, f"the role {user.role.value} may not do this; it needs one of: {allowed}")
        return user


def requires(*roles: Role) -> Any:
    """A route dependency admitting exactly `roles`."""
    if not roles:
        raise ValueError("requires() needs at least one role; use public() for an open route")
    return Depends(RoleCheck(roles))


async def _public() -> None:
    """Marks a route as open to anyone (no token)."""


def public() -> Any:
    """A route dependency declaring the route open without a token."""
    return Depends(_public)


def route_roles(route: APIRoute) -> frozenset[Role] | None:
    """The roles `route` admits; None for a public route. Raises LookupError for an undeclared one."""
    found: list[frozenset[Role] | None] = []
    for dep in route.dependant.dependencies:
        if isinstance(dep.call, RoleCheck):
            found.append(dep.call.roles)
        elif dep.call is _public:
            found.append(None)
    if len(found) != 1:
        raise LookupError(f"{route.path} {sorted(route.methods)} declares {len(found)} permissions; "
                          "give it exactly one requires(...) or public()")
    return found[0]


@dataclass(frozen=True)
class MountedRoute:
    """A route as the app serves it: full path, methods, name and the route object declared in code."""

    path: str
    methods: frozenset[str]
    name: str
    route: BaseRoute


def mounted_routes(app: FastAPI) -> Iterator[MountedRoute]:
    """Every route of `app` with its full path (FastAPI versions that include routers lazily too)."""
    contexts = getattr(fastapi_routing, "iter_route_contexts", None)
    if contexts is None:  # older FastAPI: include_router copies routes into app.routes
        for route in app.routes:
            yield MountedRoute(getattr(route, "path", ""), frozenset(getattr(route, "methods", None) or ()),
                               getattr(route, "name", ""), route)
        return
    for ctx in contexts(app.routes):
        yield MountedRoute(ctx.path or "", frozenset(ctx.methods or ()), ctx.name or "", ctx.original_route)
