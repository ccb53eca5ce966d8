"""The definition archive: every version of every definition, content-addressed, with when it took effect.

`_definitions` holds one row per change of the version in force for a (kind, id): new, changed, or removed
(`version` and `content` NULL). `record_definitions` compares the workspace with the archive and writes only
the changes, so it is idempotent; `engmetrics metrics evaluate` calls it before it computes,
`engmetrics governance snapshot` on demand, and the API server when it starts. A definition is in force from
its `effective_at` until the next row of the same (kind, id). The archive begins when recording begins:
`governance snapshot --at` backfills an older state (for example from the git history of the workspace).

A date as `at` means the end of that day (UTC); a datetime means that instant. `effective_at` is wall-clock
time (when the version was recorded), so values stored for an as-of date often used a version that took
effect after that date: `catalogs_as_shown` (`metrics evaluate --as-defined-then`) therefore takes each
metric's version from its stored results for the date, its content from the archive by version, and judges
approvals with the review board (archived policy `review_board`) in force when those results were computed;
only a metric with nothing stored falls back to the version in force at the end of the day.
`assessed_versions` is the indicator versions that were in force while an assessment of the same id was.

>>> import pathlib, tempfile
>>> from datetime import datetime, UTC
>>> from engmetrics.store import Store
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "assessments").mkdir()
>>> _ = (root / "assessments" / "deploys.yaml").write_text("review_date: 2026-09-01\\n")
>>> store = Store.open("duckdb://")
>>> [c.change for c in record_definitions(store, root, at=datetime(2026, 3, 1, tzinfo=UTC), actor="ci")]
['new']
>>> record_definitions(store, root, at=datetime(2026, 3, 2, tzinfo=UTC), actor="ci")
[]
>>> history(store, "assessment", "deploys")[0].content
{'review_date': '2026-09-01'}
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..timeutil import as_utc
from . import audit
from .identity import actor as default_actor
from .sources import KINDS, current_definitions

if TYPE_CHECKING:
    from ..catalog.loader import Catalog, Definition
    from .board import ReviewBoard

__all__ = ["KINDS", "ArchivedDefinition", "DefinitionChange", "assessed_versions", "board_as_of",
           "catalog_as_of", "catalogs_as_shown", "definition_as_of", "definitions_as_of", "end_of_day", "history",
           "in_force_during", "indicator_as_of", "record_definitions", "result_definitions", "versions_seen"]

_COLUMNS = "kind, id, version, content, source, effective_at"


@dataclass(frozen=True)
class ArchivedDefinition:
    """One row of the archive: `version` and `content` are None when the definition was removed then."""

    kind: str
    id: str
    version: str | None
    content: dict[str, Any] | None
    source: str | None
    effective_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "version": self.version, "content": self.content,
                "source": self.source, "effective_at": self.effective_at.isoformat()}


@dataclass(frozen=True)
class DefinitionChange:
    """What `record_definitions` wrote for one (kind, id): `change` is new, changed or removed."""

    kind: str
    id: str
    change: str
    version: str | None
    previous_version: str | None
    source: str | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def end_of_day(day: date) -> datetime:
    """The first instant after `day` (UTC): a definition is in force at the end of `day` when it took
    effect before this instant.

    >>> end_of_day(date(2026, 3, 31)).isoformat()
    '2026-04-01T00:00:00+00:00'
    """
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def _cutoff(at: date | datetime) -> tuple[str, datetime]:
    """SQL comparison and instant for "in force at `at`" (a date: its end)."""
    if isinstance(at, datetime):
        return "<=", as_utc(at)
    return "<", end_of_day(at)


def _row(kind: str, ident: str, version: str | None, content: str | None, source: str | None,
         effective_at: datetime) -> ArchivedDefinition:
    return ArchivedDefinition(kind, ident, version, json.loads(content) if content is not None else None, source,
                              effective_at.astimezone(UTC))


def _in_force(store: Any, at: date | datetime, kind: str | None = None, ident: str | None = None,
              ) -> list[ArchivedDefinition]:
    op, stamp = _cutoff(at)
    where, params = [f"effective_at {op} ?"], [stamp]
    for column, value in (("kind", kind), ("id", ident)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    rows = store.sql.execute(f"""
        SELECT {_COLUMNS} FROM _definitions WHERE {' AND '.join(where)}
        QUALIFY row_number() OVER (PARTITION BY kind, id ORDER BY effective_at DESC) = 1
        ORDER BY kind, id""", params).fetchall()
    return [_row(*r) for r in rows]


def record_definitions(store: Any, root: Path, *, at: datetime | None = None,
                       actor: str | None = None) -> list[DefinitionChange]:
    """Archive every definition of the workspace at `root` whose version in force at `at` (default: now)
    differs, and every one that is gone (kinds that loaded without errors only); append one
    `definitions.record` audit entry when anything changed. Returns the changes (kind, id order)."""
    stamp = as_utc(at) if at is not None else datetime.now(UTC)
    before = {(d.kind, d.id): d for d in _in_force(store, stamp)}
    changes: list[DefinitionChange] = []
    rows: list[tuple[Any, ...]] = []
    for snapshot in current_definitions(root):
        present = set()
        for d in snapshot.definitions:
            present.add(d.id)
            old = before.get((d.kind, d.id))
            old_version = old.version if old is not None else None
            if old_version == d.version:
                continue
            changes.append(DefinitionChange(d.kind, d.id, "changed" if old_version else "new", d.version,
                                            old_version, d.source))
            rows.append((d.kind, d.id, d.version, json.dumps(d.content, sort_keys=True, separators=(",", ":")),
                         d.source, stamp))
        if not snapshot.complete:
            continue
        for (kind, ident), old in before.items():
            if kind == snapshot.kind and ident not in present and old.version is not None:
                changes.append(DefinitionChange(kind, ident, "removed", None, old.version, old.source))
                rows.append((kind, ident, None, None, old.source, stamp))
    if not changes:
        return []
    changes.sort(key=lambda c: (KINDS.index(c.kind), c.id))
    counts = {name: sum(c.change == name for c in changes) for name in ("new", "changed", "removed")}
    con = store.sql
    con.execute("BEGIN TRANSACTION")
    try:
        con.executemany(f"INSERT OR REPLACE INTO _definitions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", rows)
        audit.append(store, default_actor(actor), "definitions.record", None, at=stamp,
                     details={"counts": counts, "ids": [f"{c.kind}:{c.id}" for c in changes]})
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return changes


def versions_seen(store: Any, kind: str) -> dict[str, set[str]]:
    """Every version ever recorded for each id of `kind` (removals left out)."""
    rows = store.sql.execute("SELECT id, list(DISTINCT version) FROM _definitions WHERE kind = ? AND version IS "
                             "NOT NULL GROUP BY id", [kind]).fetchall()
    return {ident: set(versions) for ident, versions in rows}


def assessed_versions(store: Any) -> dict[str, set[str]]:
    """For each indicator id, its versions that were in force at some instant when an assessment with the same
    id was in force too (both from the archive; removals end a time in force and are never versions). A version
    archived without an assessment in force is left out, so archiving alone never counts as assessed."""
    rows = store.sql.execute("""
        WITH spans AS (
            SELECT kind, id, version, effective_at AS since,
                   lead(effective_at) OVER (PARTITION BY kind, id ORDER BY effective_at) AS until
            FROM _definitions WHERE kind IN ('indicator', 'assessment'))
        SELECT i.id, list(DISTINCT i.version)
        FROM spans i JOIN spans a ON a.kind = 'assessment' AND a.id = i.id AND a.version IS NOT NULL
            AND (a.until IS NULL OR i.since < a.until) AND (i.until IS NULL OR a.since < i.until)
        WHERE i.kind = 'indicator' AND i.version IS NOT NULL
        GROUP BY i.id""").fetchall()
    return {ident: set(versions) for ident, versions in rows}


def history(store: Any, kind: str, ident: str) -> list[ArchivedDefinition]:
    """Every archived row of one definition, oldest first."""
    rows = store.sql.execute(f"SELECT {_COLUMNS} FROM _definitions WHERE kind = ? AND id = ? ORDER BY effective_at",
                             [kind, ident]).fetchall()
    return [_row(*r) for r in rows]


def definition_as_of(store: Any, kind: str, ident: str, at: date | datetime) -> ArchivedDefinition | None:
    """The row in force at `at` (a date: the end of that day); None when the archive has nothing that early.
    A row whose `version` is None says the definition had been removed by then."""
    found = _in_force(store, at, kind, ident)
    return found[0] if found else None


def definitions_as_of(store: Any, kind: str, at: date | datetime) -> list[ArchivedDefinition]:
    """Every definition of `kind` in force at `at` (removed ones left out), by id."""
    return [d for d in _in_force(store, at, kind) if d.version is not None]


def in_force_during(store: Any, start: date, end: date) -> list[ArchivedDefinition]:
    """Every archived row in force at some instant of the days `start..end` (UTC, inclusive): it took effect
    before the period ends and was not replaced before the period began. Ordered by kind, id, time."""
    rows = store.sql.execute(f"""
        SELECT {_COLUMNS} FROM (
            SELECT *, lead(effective_at) OVER (PARTITION BY kind, id ORDER BY effective_at) AS until
            FROM _definitions)
        WHERE effective_at < ? AND (until IS NULL OR until > ?)
        ORDER BY kind, id, effective_at""", [end_of_day(end), end_of_day(start - timedelta(days=1))]).fetchall()
    return [_row(*r) for r in rows]


def result_definitions(store: Any, start: date, end: date) -> list[ArchivedDefinition]:
    """Every archived row of an indicator version that `_metric_results` rows with `as_of` in `start..end`
    reference (a version may take effect after the dates whose values used it). Ordered by id, time."""
    rows = store.sql.execute(f"""
        SELECT {_COLUMNS} FROM _definitions WHERE kind = 'indicator' AND (id, version) IN (
            SELECT (metric, definition_version) FROM _metric_results WHERE as_of BETWEEN ? AND ?)
        ORDER BY id, effective_at""", [start, end]).fetchall()
    return [_row(*r) for r in rows]


def indicator_as_of(store: Any, metric: str, at: date | datetime) -> dict[str, Any]:
    """The indicator definition in force at `at`, as `catalog show` prints it, plus `definition_version`,
    `effective_at` and `source`. Raises InputError when the archive has nothing that early or the indicator
    had been removed by then."""
    row = definition_as_of(store, "indicator", metric, at)
    if row is None:
        rows = history(store, "indicator", metric)
        known = f"; its first version took effect {rows[0].effective_at.isoformat()}" if rows else \
            " (the archive has never recorded it)"
        raise InputError(f"no definition of indicator {metric!r} in force at {at.isoformat()}{known}")
    if row.content is None:
        raise InputError(f"indicator {metric!r} had been removed by {at.isoformat()} (at "
                         f"{row.effective_at.isoformat()})")
    return {**row.content, "definition_version": row.version, "effective_at": row.effective_at.isoformat(),
            "source": row.source}


def _earliest(store: Any, kind: str | None = None) -> datetime | None:
    """When the archive's first row (of `kind`, or of any kind) took effect; None when it has none."""
    found = store.sql.execute("SELECT min(effective_at) FROM _definitions WHERE coalesce(kind = ?, true)",
                              [kind]).fetchone()[0]
    return found.astimezone(UTC) if found is not None else None


def catalog_as_of(store: Any, catalog: Any, at: date | datetime) -> Any:
    """`catalog` with its indicators replaced by the ones in force at `at`, rebuilt from the archive (other
    fields, such as outcomes, kept). Indicators that did not exist then are left out; ones removed since are
    included. Raises InputError when the archive has no indicators that early."""
    earliest = _earliest(store, "indicator")
    op, stamp = _cutoff(at)
    if earliest is None or (earliest >= stamp if op == "<" else earliest > stamp):
        since = f"; its earliest indicator is from {earliest.isoformat()}" if earliest else " (it is empty)"
        raise InputError(f"the definition archive has no indicators in force at {at.isoformat()}{since}. "
                         "Record definitions with `engmetrics governance snapshot` (--at to backfill)")
    return dataclasses.replace(catalog, definitions=[_definition(r) for r in definitions_as_of(store, "indicator", at)])


def _definition(row: ArchivedDefinition) -> Definition:
    """An archived indicator row as a catalog `Definition` (file and line from its source)."""
    from ..catalog.loader import Definition
    from ..catalog.model import Indicator

    file, _, line = (row.source or "").rpartition(":")
    return Definition(Indicator.model_validate(row.content), file or (row.source or ""),
                      int(line) if line.isdigit() else None)


def board_as_of(store: Any, at: date | datetime) -> ReviewBoard | None:
    """The review board (`policies/review_board.yaml`, archived as policy `review_board`) in force at `at`;
    None when there was none then, or it did not validate (as the catalog then had no board)."""
    from pydantic import ValidationError

    from .board import BOARD_FILE, ReviewBoard

    row = definition_as_of(store, "policy", Path(BOARD_FILE).stem, at)
    if row is None or row.content is None:
        return None
    try:
        return ReviewBoard.model_validate(row.content)
    except ValidationError:
        return None


def _shown_rows(store: Any, as_of: date) -> list[tuple[str, datetime, ArchivedDefinition | None]]:
    """Per metric stored for `as_of`: when its newest results were evaluated and the archived row of their
    definition version (None when the archive never recorded that version)."""
    rows = store.sql.execute("""
        WITH shown AS (
            SELECT metric, definition_version, evaluated_at FROM _metric_results WHERE as_of = ?
            QUALIFY row_number() OVER (PARTITION BY metric ORDER BY evaluated_at DESC) = 1)
        SELECT s.metric, s.evaluated_at, d.kind, d.id, d.version, d.content, d.source, d.effective_at
        FROM shown s LEFT JOIN _definitions d
            ON d.kind = 'indicator' AND d.id = s.metric AND d.version = s.definition_version
        QUALIFY row_number() OVER (PARTITION BY s.metric ORDER BY d.effective_at DESC) = 1
        ORDER BY s.metric""", [as_of]).fetchall()
    return [(metric, stamp.astimezone(UTC), _row(*rest) if rest[0] is not None else None)
            for metric, stamp, *rest in rows]


def catalogs_as_shown(store: Any, catalog: Catalog, as_of: date) -> list[tuple[datetime, Catalog]]:
    """What `metrics evaluate` showed for `as_of`, as (when, catalog) pairs to evaluate, oldest first. A metric
    with results stored for `as_of` gets the definition version of its newest ones (content from the archive),
    judged at their `evaluated_at`; any other indicator gets the definition in force at the end of the day,
    judged then. Each catalog holds the indicators of one such instant and the review board in force at it
    (`catalog`'s own board for an instant before the archive began: it cannot tell; other fields of `catalog`
    kept). Raises InputError when neither gives any indicator."""
    groups: dict[datetime, list[Definition]] = {}
    stored = set()
    for metric, stamp, row in _shown_rows(store, as_of):
        if row is not None:
            stored.add(metric)
            groups.setdefault(stamp, []).append(_definition(row))
    then = [_definition(r) for r in definitions_as_of(store, "indicator", as_of) if r.id not in stored]
    if then:  # judged at the day's last instant (`end_of_day` itself belongs to the next day)
        groups.setdefault(end_of_day(as_of) - timedelta(microseconds=1), []).extend(then)
    if not groups:
        raise InputError(f"nothing to reproduce for {as_of.isoformat()}: no results stored for it with an archived "
                         f"definition version, and the definition archive has no indicators in force at "
                         f"{as_of.isoformat()}. Record definitions with `engmetrics governance snapshot` (--at to "
                         "backfill)")
    began = _earliest(store)
    return [(stamp, dataclasses.replace(
        catalog, definitions=sorted(groups[stamp], key=lambda d: d.id),
        review_board=board_as_of(store, stamp) if began is not None and began <= stamp else catalog.review_board))
        for stamp in sorted(groups)]
