"""SLOs: the status of every objective and window (`engmetrics slo status --json`) and one SLO's spec.

The specs (`slos/*.yaml`) are loaded once and reloaded when a file changes (`SloCache`, like the catalog's
`CatalogCache`); a status is computed in the thread pool and kept while neither the data nor the specs
change (keyed by the store's write count, so only in a served workspace). SLOs are about services, which
are organisation data: every reader sees every SLO.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ...settings import Settings
from ...slo import SloSet, check_slos, slos_dir
from ...slo.openslo import SLO, V1AlphaSLO
from ...slo.resolve import NotComputable
from ...slo.sloth import SlothSpec
from ...slo.status import StatusReport, alert_table, slo_status
from ...slo.versions import in_force, slo_versions
from ...slo.windows import resolve_window
from ...store import Store
from ..auth import READERS, requires
from ..deps import SettingsDep, StoreDep
from ..problems import Problem

__all__ = ["LoadedSlos", "SloCache", "SlosDep", "default_at", "find_slo", "only_slo", "router", "slo_cache",
           "slo_summary", "status_of"]

router = APIRouter(tags=["slos"])

Signature = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class LoadedSlos:
    """The workspace's SLO specs and the file signature they were loaded from."""

    specs: SloSet
    signature: Signature
    errors: list[Any] = field(default_factory=list)

    def checked(self) -> SloSet:
        """The specs; a 500 problem listing every error while the specs have errors."""
        if self.errors:
            raise Problem(500, "the workspace's SLO specs have errors; fix them and retry (`engmetrics slo validate`)",
                          issues=[str(i) for i in self.errors])
        return self.specs


class SloCache:
    """The specs of `slos/`, reloaded when a file changes (by name, size, mtime), and recent statuses.
    `recheck_seconds` > 0 looks at the files at most that often."""

    def __init__(self, workspace: Path, *, recheck_seconds: float = 0.0, statuses: int = 32) -> None:
        self.workspace, self.recheck_seconds, self._max = workspace, recheck_seconds, statuses
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._loaded: LoadedSlos | None = None
        self._statuses: OrderedDict[tuple[Any, ...], StatusReport] = OrderedDict()

    def _signature(self) -> Signature:
        directory = slos_dir(self.workspace)
        if not directory.is_dir():
            return ()
        paths = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
        return tuple((p.name, (s := p.stat()).st_size, s.st_mtime_ns) for p in paths)

    def get(self) -> LoadedSlos:
        now = time.monotonic()
        if self._loaded is not None and now - self._checked_at < self.recheck_seconds:
            return self._loaded
        self._checked_at = now
        signature = self._signature()
        with self._lock:
            if self._loaded is None or signature != self._loaded.signature:
                report = check_slos(self.workspace)
                self._loaded = LoadedSlos(report.specs, signature, list(report.errors))
                self._statuses.clear()
            return self._loaded

    def status(self, store: Store, loaded: LoadedSlos, specs: SloSet, at: datetime, settings: Settings
               ) -> StatusReport:
        """`slo_status` of `specs` at `at`, from the cache when the store's version is known and unchanged."""
        version = store.known_version
        ident = (version, loaded.signature, at)
        if version is not None:
            with self._lock:
                if ident in self._statuses:
                    self._statuses.move_to_end(ident)
                    return self._statuses[ident]
        report = slo_status(store, specs, at, zone=settings.timezone, min_events=settings.slo.min_events,
                            warning_remaining=settings.slo.warning_remaining)
        if version is not None:
            with self._lock:
                self._statuses[ident] = report
                while len(self._statuses) > self._max:
                    self._statuses.popitem(last=False)
        return report


def slo_cache(request: Request) -> SloCache:
    cache = getattr(request.app.state, "slos", None)
    if cache is None:  # made on first use: the app factory knows nothing of SLOs
        cache = request.app.state.slos = SloCache(request.app.state.settings.workspace)
    return cache


async def _slo_cache_dep(request: Request) -> SloCache:
    return slo_cache(request)


SlosDep = Annotated[SloCache, Depends(_slo_cache_dep)]
"""The app's SLO specs and status cache."""

At = Annotated[datetime | None, Query(description="Judge the SLOs at this instant, ISO 8601 (UTC unless it has an "
                                                   "offset; default: now, to the minute).")]


def default_at(at: datetime | None) -> datetime:
    """`at` in UTC, or now to the minute."""
    if at is None:
        return datetime.now(UTC).replace(second=0, microsecond=0)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def only_slo(specs: SloSet, name: str) -> SloSet:
    """`specs` with the OpenSLO SLOs other than `name` left out (and the Sloth and v1alpha specs, unless
    `name` is not an OpenSLO SLO)."""
    openslo = name in slo_versions(specs)

    def keep(doc: Any) -> bool:
        if isinstance(doc.model, SLO):
            return doc.name == name
        return not (openslo and isinstance(doc.model, SlothSpec | V1AlphaSLO))

    return SloSet([d for d in specs.documents if keep(d)], set(specs.invalid))


def _other_forms(specs: SloSet) -> dict[str, dict[str, Any]]:
    """Sloth and v1alpha SLOs by the name `slo status` gives them (they are not computed here)."""
    found: dict[str, dict[str, Any]] = {}
    for doc in specs.sloth_specs:
        for slo in doc.model.slos:
            found[f"{doc.name}-{slo.name}"] = {"name": f"{doc.name}-{slo.name}", "form": "sloth",
                                               "service": doc.model.service, "file": doc.file, "line": doc.line}
    for doc in specs.of(V1AlphaSLO):
        found[doc.name] = {"name": doc.name, "form": "openslo/v1alpha", "service": doc.model.spec.service,
                           "file": doc.file, "line": doc.line}
    return found


def find_slo(specs: SloSet, name: str) -> bool:
    """Whether the specs define an SLO of that name (in any form)."""
    return name in slo_versions(specs) or name in _other_forms(specs)


def slo_summary(specs: SloSet, name: str, at: datetime, zone: str = "UTC") -> dict[str, Any]:
    """One SLO's spec as of `at`: service, description, method, objectives, windows, corrections, every
    version with the instant it took effect, and the alert table of each window. Sloth and v1alpha SLOs
    give where they are defined only."""
    versions = slo_versions(specs).get(name)
    if not versions:
        empty = {"display_name": None, "description": None, "budgeting_method": None, "indicator": None,
                 "objectives": [], "windows": [], "corrections": [], "versions": []}
        return {**empty, **_other_forms(specs)[name], "computed": False}
    current = in_force(versions, at)
    shown = current or versions[0]
    spec, doc = shown.slo.spec, shown.document
    windows = []
    for tw in spec.timeWindow:
        window: dict[str, Any] = {"duration": tw.duration, "is_rolling": tw.isRolling,
                                  "calendar": None if tw.calendar is None else {
                                      "start_time": str(tw.calendar.startTime), "time_zone": tw.calendar.timeZone}}
        try:
            resolved = resolve_window(tw, at, zone)
            table = alert_table(specs, shown, resolved)
        except (NotComputable, ValueError) as exc:
            window["alert_table"] = {"error": str(exc)}
        else:
            window["label"] = resolved.label
            window["alert_table"] = {"name": table.name, "tiers": [
                {"severity": t.severity, "long_window": t.long_window, "short_window": t.short_window,
                 "budget_share": t.budget_share, "factor": round(t.factor(resolved.period_seconds), 6)}
                for t in table.tiers]}
        windows.append(window)
    return {
        "name": name, "form": "openslo/v1", "computed": current is not None,
        "display_name": shown.slo.metadata.displayName, "service": spec.service, "description": spec.description,
        "budgeting_method": spec.budgetingMethod,
        "indicator": spec.indicatorRef or ("inline" if spec.indicator is not None else None),
        "objectives": [{"index": i, "display_name": o.displayName, "target": o.target, "op": o.op, "value": o.value,
                        "time_slice_target": o.timeSliceTarget, "time_slice_window": o.timeSliceWindow,
                        "indicator": o.indicatorRef or ("inline" if o.indicator is not None else None)}
                       for i, o in enumerate(spec.objectives)],
        "windows": windows,
        "corrections": [{"start": c.start.isoformat(), "end": c.end.isoformat() if c.end else None,
                         "duration": c.duration, "rrule": c.rrule, "time_zone": c.timeZone, "reason": c.reason}
                        for c in spec.corrections],
        "versions": [{"effective_from": v.since.isoformat() if v.since else None, "in_force": v is current,
                      "budgeting_method": v.slo.spec.budgetingMethod,
                      "targets": [o.target for o in v.slo.spec.objectives],
                      "file": v.document.file, "line": v.document.line} for v in versions],
        "file": doc.file, "line": doc.line,
    }


def status_of(cache: SloCache, store: Store, settings: Settings, at: datetime) -> StatusReport:
    """The status of every SLO at `at`; raises the specs' errors as a problem. (One SLO's items come from
    the status of all: SLOs sharing an indicator share its exclusions, so they are judged together.)"""
    loaded = cache.get()
    try:
        return cache.status(store, loaded, loaded.checked(), at, settings)
    except ValueError as exc:  # data the specs could not check, e.g. a maintenance window's rrule
        raise Problem(500, f"the SLO status could not be computed: {exc}") from None


def _skipped(report: StatusReport) -> list[dict[str, str]]:
    return [{"slo": name, "reason": reason} for name, reason in report.skipped]


@router.get("/slos", dependencies=[requires(*READERS)], response_model=dict[str, Any])
async def list_slos(store: StoreDep, settings: SettingsDep, cache: SlosDep, at: At = None,
                    service: Annotated[str | None, Query(description="Only the SLOs of this service.")] = None
                    ) -> JSONResponse:
    """Every SLO objective and window at `at`: good and total events, SLI, error budget (allowed, consumed,
    remaining), burn rates, alerts and state, as `engmetrics slo status --json`; `skipped` lists the SLOs
    not computed here and why."""
    when = default_at(at)
    report = await run_in_threadpool(status_of, cache, store, settings, when)
    items = [i for i in report.items if service is None or i["service"] == service]
    skipped = _skipped(report)
    if service is not None:
        specs = cache.get().specs
        services = {name: v[-1].slo.spec.service for name, v in slo_versions(specs).items()}
        services |= {name: f["service"] for name, f in _other_forms(specs).items()}
        skipped = [s for s in skipped if services.get(s["slo"]) == service]
    return JSONResponse({"at": when.isoformat(), "items": items, "skipped": skipped})


@router.get("/slos/{slo}", dependencies=[requires(*READERS)], response_model=dict[str, Any])
async def show_slo(slo: str, store: StoreDep, settings: SettingsDep, cache: SlosDep, at: At = None) -> JSONResponse:
    """One SLO: its spec (service, description, budgeting method, objectives, windows with their alert
    tables, corrections, versions with the instant each took effect) and its status items at `at`."""
    when = default_at(at)
    specs = cache.get().checked()
    if not find_slo(specs, slo):
        raise Problem(404, f"no SLO {slo!r}; see GET /api/v1/slos")
    report = await run_in_threadpool(status_of, cache, store, settings, when)
    items = [i for i in report.items if i["slo"] == slo]
    skipped = [s for s in _skipped(report) if s["slo"] == slo]
    return JSONResponse({"at": when.isoformat(), "slo": slo_summary(specs, slo, when, settings.timezone),
                         "items": items, "skipped": skipped})
