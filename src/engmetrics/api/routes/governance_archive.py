"""The definition archive and legal holds under `/api/v1/governance`.

- `GET /governance/definitions/{kind}/{id}`: every archived version of one definition, oldest first (the
  id may contain `/`, e.g. `slo/SLO/checkout`). Readers: a definition is published to everyone who reads
  the values it produced.
- `GET /governance/holds[?all=true]`: legal holds (with `all`, released ones too). Auditors and
  metrics-admins only: a hold's reason can name a legal matter, which managers and viewers need not see.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from ...governance.archive import KINDS, history
from ...governance.holds import list_holds
from ..auth import AUDITORS, READERS, requires
from ..deps import StoreDep
from ..problems import Problem
from .governance import router


@router.get("/definitions/{kind}/{definition_id:path}", dependencies=[requires(*READERS)])
def definition_history(kind: str, definition_id: str, store: StoreDep) -> list[dict[str, Any]]:
    """Every archived version of one definition (kind: indicator, slo, budget, policy or assessment), oldest
    first: `version` (null when removed), `content`, `source` (file:line) and `effective_at`."""
    if kind not in KINDS:
        raise Problem(404, f"unknown definition kind {kind!r}; expected one of: {', '.join(KINDS)}")
    rows = history(store, kind, definition_id)
    if not rows:
        raise Problem(404, f"the archive has no {kind} {definition_id!r}")
    return [r.to_dict() for r in rows]


@router.get("/holds", dependencies=[requires(*AUDITORS)])
def legal_holds(store: StoreDep, include_released: Annotated[bool, Query(
        alias="all", description="Include released holds.")] = False) -> list[dict[str, Any]]:
    """Legal holds in the order placed: scope, target, from/to, reason, who placed (and released) them."""
    return [h.to_dict() for h in list_holds(store, include_released=include_released)]
