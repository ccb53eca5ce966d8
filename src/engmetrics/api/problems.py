"""Errors as RFC 9457 problem documents (`application/problem+json`) with a message that says what to fix.

>>> problem_body(404, "no indicator 'x'", instance="/api/v1/indicators/x")["title"]
'Not Found'
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..auth.tokens import AuthError
from ..errors import EngmetricsError, InputError, StoreLockedError, ValidationFailed
from ..store.registry import UnknownDatasetError

__all__ = ["MEDIA_TYPE", "Problem", "bad_parameter", "install_problem_handlers", "problem_body"]

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("engmetrics.api")
BEARER_CHALLENGE = 'Bearer realm="engmetrics"'


class Problem(Exception):
    """Raise in a route or dependency to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None,
                 **extensions: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers, self.extensions = status, detail, headers or {}, extensions


def bad_parameter(field: str, message: str, where: str = "query") -> Problem:
    """A 422 naming the parameter, shaped like FastAPI's own validation failures."""
    return Problem(422, f"{where} parameter {field}: {message}",
                   errors=[{"field": field, "in": where, "message": message}])


def problem_body(status: int, detail: str, *, instance: str | None = None, **extensions: Any) -> dict[str, Any]:
    """The JSON members of a problem document (`type` is `about:blank`: the status says it all)."""
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                            "detail": detail}
    if instance:
        body["instance"] = instance
    return {**body, **extensions}


def _response(request: Request, status: int, detail: str, headers: dict[str, str] | None = None,
              **extensions: Any) -> JSONResponse:
    return JSONResponse(problem_body(status, detail, instance=request.url.path, **extensions), status_code=status,
                        headers=headers, media_type=MEDIA_TYPE)


def _location(loc: tuple[Any, ...]) -> tuple[str, str]:
    where = str(loc[0]) if loc else "body"
    field = ".".join(str(p) for p in loc[1:]) or where
    return where, field


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for err in exc.errors():
        where, field = _location(tuple(err.get("loc", ())))
        errors.append({"field": field, "in": where, "message": err.get("msg", "invalid")})
    detail = "; ".join(f"{e['in']} parameter {e['field']}: {e['message']}" for e in errors)
    return _response(request, 422, detail or "invalid request", errors=errors)


async def _problem(request: Request, exc: Problem) -> JSONResponse:
    return _response(request, exc.status, exc.detail, exc.headers, **exc.extensions)


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).description
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}; see /api/v1/docs"
    return _response(request, exc.status_code, detail, getattr(exc, "headers", None))


async def _engmetrics(request: Request, exc: EngmetricsError) -> JSONResponse:
    if isinstance(exc, AuthError):
        reason = str(exc).replace('"', "'")
        challenge = f'{BEARER_CHALLENGE}, error="invalid_token", error_description="{reason}"'
        return _response(request, 401, str(exc), {"WWW-Authenticate": challenge})
    if isinstance(exc, UnknownDatasetError):
        return _response(request, 404, str(exc))
    if isinstance(exc, StoreLockedError):
        return _response(request, 503, str(exc), {"Retry-After": "5"})
    if isinstance(exc, ValidationFailed):
        issues = [str(i) for i in exc.issues]
        return _response(request, 500, "the workspace's definitions have errors; fix them and retry "
                         "(`engmetrics catalog validate`)", issues=issues)
    if isinstance(exc, InputError):
        return _response(request, 400, str(exc))
    log.exception("engmetrics error on %s", request.url.path)
    return _response(request, 500, str(exc))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return _response(request, 500, "internal error; the server log has the details")


def install_problem_handlers(app: FastAPI) -> None:
    """Every error the app answers with becomes a problem document."""
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(Problem, _problem)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(EngmetricsError, _engmetrics)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
