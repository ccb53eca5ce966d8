"""Typed dependencies of the routes: settings, the per-request store, the catalog, the current user and
the request's reads of restricted data (`AccessDep`; `reads(dataset)` checks and audits one dataset).

    @router.get("/things")
    def list_things(store: StoreDep, user: CurrentUser) -> list[dict]: ...

    @router.get("/bills", dependencies=[requires(*READERS), reads("cost")])
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Header, Query, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from ..auth.roles import Principal
from ..auth.tokens import AuthError, TokenCache, active_token, authenticate
from ..catalog.cache import EvaluationCache
from ..governance.access import MAX_REASON, REASON_HEADER, ReadAccess, check_reason, load_access_policy
from ..settings import Settings
from ..store import Store
from .problems import BEARER_CHALLENGE, Problem
from .session import COOKIE, SessionSigner
from .state import LoadedCatalog

__all__ = ["AccessDep", "CatalogDep", "CurrentUser", "DatasetRead", "EvaluationsDep", "ReasonHeader", "ReasonQuery",
           "SettingsDep", "SignerDep", "StoreDep", "WriteStoreDep", "current_user", "read_access", "reads"]


# Dependencies that only read app state are `async`: FastAPI runs sync dependencies in a thread pool, one
# hop each, which costs more than they do. The store and the user (queries) stay sync.
async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _store(request: Request) -> AsyncIterator[Store]:
    """Async: a request store is cheap to make (its cursor opens on first use, in the handler's thread)."""
    with request.app.state.stores.reader() as store:
        yield store


def _write_store(request: Request) -> Iterator[Store]:
    with request.app.state.stores.writer() as store:
        yield store


async def _catalog(request: Request) -> LoadedCatalog:
    return request.app.state.catalogs.get()


async def _evaluations(request: Request) -> EvaluationCache:
    return request.app.state.evaluations


async def _signer(request: Request) -> SessionSigner:
    return request.app.state.signer


async def _tokens(request: Request) -> TokenCache:
    return request.app.state.tokens


SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[Store, Depends(_store)]
"""A store for reading, on the request's own cursor."""
WriteStoreDep = Annotated[Store, Depends(_write_store)]
"""A store for writing: the request holds the app's write lock."""
CatalogDep = Annotated[LoadedCatalog, Depends(_catalog)]
EvaluationsDep = Annotated[EvaluationCache, Depends(_evaluations)]
"""The app's evaluation cache: `evaluations.evaluate(store, loaded.catalog, as_of, git_commit=loaded.git_commit,
catalog_version=loaded.version)` instead of evaluating on every request."""
SignerDep = Annotated[SessionSigner, Depends(_signer)]
TokensDep = Annotated[TokenCache, Depends(_tokens)]
"""The app's token cache: authentication without a query per request."""

_bearer = HTTPBearer(auto_error=False, description="An API token: `engmetrics token create --role ROLE`.")
_cookie = APIKeyCookie(name=COOKIE, auto_error=False, description="The web session set by `POST /login`.")


async def current_user(store: StoreDep, signer: SignerDep, tokens: TokensDep,
                 bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                 session: Annotated[str | None, Depends(_cookie)]) -> Principal:
    """The principal of the request's bearer token, else of its session cookie; 401 without either.
    Async: in the server the token check is a dictionary look-up (see `TokenCache`)."""
    if bearer is not None:
        info = authenticate(store, bearer.credentials, cache=tokens)
    elif session:
        token_id = signer.verify(session)
        if token_id is None:
            raise AuthError("the web session expired or is invalid; log in again")
        info = active_token(store, token_id, cache=tokens)
    else:
        raise Problem(401, "authentication required: send `Authorization: Bearer <token>` "
                           "(create one with `engmetrics token create`) or log in at POST /login",
                      headers={"WWW-Authenticate": BEARER_CHALLENGE})
    return Principal(info.token_id, info.role, info.teams, info.user)


CurrentUser = Annotated[Principal, Depends(current_user)]


ReasonQuery = Annotated[str | None, Query(description=(
    f"Why the data is read, for the audit log (at most {MAX_REASON} characters, else 400); required for "
    f"datasets the access policy lists under `reason_required` (or send the {REASON_HEADER} header)."))]
ReasonHeader = Annotated[str | None, Header(alias=REASON_HEADER, description=(
    f"Why the data is read (as `reason`; at most {MAX_REASON} characters, else 400)."))]


def read_access(request: Request, settings: Settings, user: Principal, reason: str | None,
                reason_header: str | None) -> ReadAccess:
    """The request's `ReadAccess`: the workspace's access policy (`policies/access.yaml`, read per request;
    errors in it answer 500), the user, the reason (header first) and what was asked (`GET /path?query`,
    without the reason). A reason longer than `MAX_REASON` characters, in the header or the query, is a 400
    whatever the route reads (`engmetrics.governance.access.check_reason`)."""
    check_reason(reason_header)
    check_reason(reason)
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "reason"])
    what = f"{request.method} {request.url.path}" + (f"?{query}" if query else "")
    return ReadAccess(load_access_policy(settings.workspace), user, request.app.state.stores, what,
                      reason_header or reason)


def _access(request: Request, settings: SettingsDep, user: CurrentUser, reason: ReasonQuery = None,
            reason_header: ReasonHeader = None) -> ReadAccess:
    return read_access(request, settings, user, reason, reason_header)


AccessDep = Annotated[ReadAccess, Depends(_access)]
"""The request's reads of restricted data: `access.allow(dataset)` checks the access policy (403, 428) and
writes the audit entry, failing the request when it cannot."""


class DatasetRead:
    """The dependency `reads(dataset)` installs: check and audit a read of `dataset` before the handler runs.
    Sync: the audit entry is a write (FastAPI runs it in the thread pool)."""

    def __init__(self, dataset: str, *, individual: bool = False) -> None:
        self.dataset, self.individual = dataset, individual

    def __call__(self, access: AccessDep) -> ReadAccess:
        access.allow(self.dataset, individual=self.individual)
        return access


def reads(dataset: str, *, individual: bool = False) -> Any:
    """A route dependency: the route reads `dataset` (or data derived from its rows)."""
    return Depends(DatasetRead(dataset, individual=individual))
