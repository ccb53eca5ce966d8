"""The incident archive: list, show and full-text search, each as one reader may see it (see `confidentiality`).

Filters (`IncidentFilter`, all optional, combined with AND): `service` and `severity` equal the given value;
`start <= declared_at < end` (instants in UTC); `factor` is one of `contributing_factors` (exact, and only on
incidents the reader may read: a redacted incident never matches a factor).

Search ranks with Okapi BM25 (k1 = 1.2, b = 0.75). A document is one incident: its title, summary,
root_cause_category, contributing_factors and service, then its postmortem's (`postmortems`: summary,
trigger, resolution, contributing_factors, went_well, went_wrong, got_lucky), read in that order as one text.
Tokens are runs of letters and digits (`_` and punctuation split words), case-folded; no stemming, no stop
words. For the distinct query terms t,

    score(D) = sum_t idf(t) * f(t, D) * (k1 + 1) / (f(t, D) + k1 * (1 - b + b * |D| / avgdl))
    idf(t) = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))

with f the count of t in D, |D| its token count, N the number of incidents that pass the filters, n(t) how
many of them contain t and avgdl their mean length. Only incidents with a score above 0 are hits, best first
(ties: newest declared_at, then incident_id).

**No leak:** the engine replaces every field the reader may not read with null *before* the texts are
fetched, so hidden text is not indexed: it cannot match, count in n(t) or avgdl, or appear in a snippet.

The engine filters and redacts (Ibis); BM25 and snippets are computed in numpy/Python over the fetched texts
of the filtered incidents (an archive holds thousands of incidents, not millions).

The snippet is up to `SNIPPET_WORDS` words of one field around the best match: the window (starting up to
`SNIPPET_BEFORE` words before a matching word) whose distinct query terms have the largest summed idf, the
first such on ties; matching words are highlighted as `**word**` (`Hit.parts` gives them structured) and a
cut text is marked with "…".
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np

from ..auth.roles import Principal
from ..errors import InputError
from ..store import Store
from ..timeutil import UTC_TIMESTAMP, as_utc
from .confidentiality import REDACTED, readable_expr, redact_table

__all__ = [
    "INCIDENT_TEXT",
    "K1",
    "POSTMORTEM_TEXT",
    "B",
    "Hit",
    "IncidentFilter",
    "bm25_scores",
    "get_incident",
    "incident_services",
    "list_incidents",
    "parse_bound",
    "search_incidents",
    "snippet_parts",
    "tokenize",
]

K1, B = 1.2, 0.75
INCIDENT_TEXT = ("title", "summary", "root_cause_category", "contributing_factors", "service")
POSTMORTEM_TEXT = ("summary", "trigger", "resolution", "contributing_factors", "went_well", "went_wrong", "got_lucky")
SNIPPET_WORDS, SNIPPET_BEFORE = 16, 5
TIMELINE = (("impact_started_at", "impact started"), ("detected_at", "detected"), ("declared_at", "declared"),
            ("acknowledged_at", "acknowledged"), ("mitigated_at", "mitigated"), ("resolved_at", "resolved"))
_WORD = re.compile(r"[^\W_]+")

Parts = tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents: see the module docstring. `start`/`end` are instants (naive = UTC)."""

    service: str | None = None
    severity: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    factor: str | None = None


@dataclass(frozen=True)
class Hit:
    """One search result; `parts` is the snippet as (text, is_match) pieces."""

    incident_id: str
    score: float
    title: str | None
    service: str | None
    severity: int | None
    declared_at: datetime | None
    parts: Parts
    redacted: bool

    @property
    def snippet(self) -> str:
        """The snippet with matching words as `**word**`."""
        return "".join(f"**{text}**" if match else text for text, match in self.parts)

    def to_dict(self) -> dict[str, Any]:
        """The `--json` / API item."""
        return {"incident_id": self.incident_id, "score": round(self.score, 6), "title": self.title,
                "service": self.service, "severity": self.severity,
                "declared_at": None if self.declared_at is None else self.declared_at.isoformat(),
                "snippet": self.snippet, "redacted": self.redacted}


def tokenize(text: str | None) -> list[str]:
    """Case-folded runs of letters and digits.

    >>> tokenize("DB-pool exhausted: config_change (v2)")
    ['db', 'pool', 'exhausted', 'config', 'change', 'v2']
    """
    return [m.group().casefold() for m in _WORD.finditer(text or "")]


def parse_bound(text: str | None, *, end: bool = False) -> datetime | None:
    """An ISO date or datetime as an instant in UTC; a date is its midnight, or with `end` the next one
    (so `--to 2026-03-31` covers that whole day).

    >>> parse_bound("2026-03-31", end=True).isoformat()
    '2026-04-01T00:00:00+00:00'
    """
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return as_utc(datetime(day.year, day.month, day.day) + timedelta(days=1 if end else 0))
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise InputError(f"not an ISO date or datetime: {text!r} (e.g. 2026-03-31 or 2026-03-31T12:00:00Z)") from None


def bm25_scores(docs: Sequence[Sequence[str]], terms: Sequence[str], *, k1: float = K1, b: float = B
                ) -> np.ndarray:
    """The BM25 score of each tokenised document for the distinct `terms` (see the module docstring).

    >>> bm25_scores([["a", "b"], ["b"]], ["a"]).round(4).tolist()  # ln 2 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 1.5))
    [0.61, 0.0]
    """
    distinct = list(dict.fromkeys(terms))
    if not docs or not distinct:
        return np.zeros(len(docs))
    lengths = np.array([len(d) for d in docs], dtype=float)
    if lengths.sum() == 0:
        return np.zeros(len(docs))
    counts = np.array([[c[t] for t in distinct] for c in map(Counter, docs)], dtype=float)
    df = (counts > 0).sum(axis=0)
    idf = np.log1p((len(docs) - df + 0.5) / (df + 0.5))
    norm = k1 * (1 - b + b * lengths / lengths.mean())
    return (counts * (k1 + 1) / (counts + norm[:, None])) @ idf


def snippet_parts(fields: Sequence[str | None], weights: dict[str, float], *, words: int = SNIPPET_WORDS,
                  before: int = SNIPPET_BEFORE) -> Parts:
    """The best-matching window of `fields` (see the module docstring); `weights` are the query terms' idf.

    >>> snippet_parts(["Disk full", "the primary database ran out of disk"], {"database": 1.0}, words=4, before=1)
    (('…', False), ('primary ', False), ('database', True), (' ran out', False), ('…', False))
    """
    best: tuple[float, str, list[re.Match[str]], int, int] | None = None
    for text in fields:
        found = list(_WORD.finditer(text or ""))
        for i, m in enumerate(found):
            if m.group().casefold() not in weights:
                continue
            lo = max(0, i - before)
            hi = min(len(found), lo + words)
            score = sum(weights[t] for t in {w.group().casefold() for w in found[lo:hi]} & weights.keys())
            if best is None or score > best[0]:
                best = (score, text or "", found, lo, hi)
    if best is None:
        return ()
    _, text, found, lo, hi = best
    parts: list[tuple[str, bool]] = [("…", False)] if lo > 0 else []
    at = found[lo].start()
    for m in found[lo:hi]:
        if m.group().casefold() in weights:
            parts += [(text[at:m.start()], False), (m.group(), True)] if m.start() > at else [(m.group(), True)]
            at = m.end()
    if found[hi - 1].end() > at:
        parts.append((text[at:found[hi - 1].end()], False))
    return (*parts, ("…", False)) if hi < len(found) else tuple(parts)


def _filtered(store: Store, reader: Principal | None, filters: IncidentFilter, *, marker: bool) -> ir.Table:
    """The incidents passing `filters`, redacted for `reader`."""
    t = store.table("incidents")
    conditions = []
    if filters.service is not None:
        conditions.append(t.service == filters.service)
    if filters.severity is not None:
        conditions.append(t.severity == filters.severity)
    if filters.start is not None:
        conditions.append(t.declared_at >= ibis.literal(as_utc(filters.start), type=UTC_TIMESTAMP))
    if filters.end is not None:
        conditions.append(t.declared_at < ibis.literal(as_utc(filters.end), type=UTC_TIMESTAMP))
    if filters.factor is not None:
        conditions.append(t.contributing_factors.contains(filters.factor).fill_null(False)
                          & readable_expr(reader, t.confidentiality, t.team))
    return redact_table(t.filter(*conditions) if conditions else t, reader, marker=marker)


def _rows(t: ir.Table) -> list[dict[str, Any]]:
    """The rows of `t` as dicts, instants in UTC (an engine may hand them back naive, e.g. PySpark)."""
    return [{k: as_utc(v) if isinstance(v, datetime) else v for k, v in row.items()}
            for row in t.to_pyarrow().to_pylist()]


def _ordered(t: ir.Table) -> ir.Table:
    return t.order_by([ibis.desc(t.declared_at), t.incident_id])


def list_incidents(store: Store, reader: Principal | None, filters: IncidentFilter = IncidentFilter(), *,
                   limit: int = 50, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """How many incidents pass `filters`, and `limit` of them from `offset`, newest declared first (then by
    id): every incident column, redacted for `reader`, plus `redacted`."""
    t = _filtered(store, reader, filters, marker=True)
    total = int(t.count().execute())
    return total, _rows(_ordered(t).limit(limit, offset=offset))


def _postmortem_table(store: Store, reader: Principal | None, incidents: ir.Table) -> ir.Table:
    """The postmortem of each of `incidents` (a redacted table): `postmortem_readable` and `POSTMORTEM_TEXT` as
    `postmortem_<field>` (factors joined with "; "), null where `reader` may not read them: readable when both
    the incident and the postmortem (its own confidentiality, judged with the incident's team) are."""
    pm = store.table("postmortems")
    own = incidents.select(incident_id="incident_id", incident_team="team", incident_redacted="redacted")
    joined = own.join(pm, "incident_id")
    readable = ~joined.incident_redacted & readable_expr(reader, joined.confidentiality, joined.incident_team)
    texts = {f: joined[f].join("; ") if joined[f].type().is_array() else joined[f] for f in POSTMORTEM_TEXT}
    return joined.select("incident_id", postmortem_readable=readable,
                         **{f"postmortem_{f}": ibis.ifelse(readable, v, ibis.null("string")) for f, v in texts.items()})


def get_incident(store: Store, reader: Principal | None, incident_id: str) -> dict[str, Any] | None:
    """One incident as `reader` may see it, with `timeline` (its lifecycle instants, in time order),
    `action_items` (by created_at, then item_id) and `postmortem` (its text fields, "[redacted]" where hidden;
    None without one); None if the incident is unknown."""
    t = redact_table(store.table("incidents"), reader)
    t = t.filter(t.incident_id == incident_id)
    rows = _rows(t)
    if not rows:
        return None
    record = rows[0]
    record["timeline"] = sorted(({"event": name, "at": record[col]} for col, name in TIMELINE if record[col]),
                                key=lambda e: e["at"])
    items = store.table("action_items")
    items = items.filter(items.incident_id == incident_id).order_by(["created_at", "item_id"])
    record["action_items"] = _rows(items)
    pms = _rows(_postmortem_table(store, reader, t))
    record["postmortem"] = {f: pm[f"postmortem_{f}"] if pm["postmortem_readable"] else REDACTED
                            for f in POSTMORTEM_TEXT} if (pm := next(iter(pms), None)) else None
    return record


def _documents(store: Store, reader: Principal | None, filters: IncidentFilter) -> list[dict[str, Any]]:
    """The filtered incidents with their readable text and their postmortem's (hidden text is null)."""
    t = _filtered(store, reader, filters, marker=False)
    pm = _postmortem_table(store, reader, t).drop("postmortem_readable")
    t = t.left_join(pm, "incident_id").drop("incident_id_right")
    return _rows(t.select("incident_id", "declared_at", "severity", "redacted", *INCIDENT_TEXT,
                          *(f"postmortem_{f}" for f in POSTMORTEM_TEXT)))


def _texts(row: dict[str, Any]) -> list[str | None]:
    factors = row["contributing_factors"]
    texts = [row[f] if f != "contributing_factors" else ("; ".join(factors) if factors else None)
             for f in INCIDENT_TEXT]
    return [*texts, *(row[f"postmortem_{f}"] for f in POSTMORTEM_TEXT)]


def search_incidents(store: Store, query: str, reader: Principal | None,
                     filters: IncidentFilter = IncidentFilter(), *, limit: int = 20) -> list[Hit]:
    """The `limit` best BM25 hits of `query` among the incidents passing `filters`, as `reader` may see
    them (see the module docstring). Raises InputError for a query without any word."""
    terms = list(dict.fromkeys(tokenize(query)))
    if not terms:
        raise InputError(f"the query {query!r} has no word to search for")
    rows = _documents(store, reader, filters)
    texts = [_texts(r) for r in rows]
    docs = [tokenize(" ".join(t for t in fields if t)) for fields in texts]
    scores = bm25_scores(docs, terms)
    n, sets = len(rows), [set(d) for d in docs]
    df = {t: sum(t in s for s in sets) for t in terms}
    weights = {t: math.log1p((n - df[t] + 0.5) / (df[t] + 0.5)) for t in terms if df[t]}
    order = sorted((i for i in range(n) if scores[i] > 0),
                   key=lambda i: (-scores[i], -(rows[i]["declared_at"].timestamp()), rows[i]["incident_id"]))
    return [Hit(rows[i]["incident_id"], float(scores[i]),
                REDACTED if rows[i]["redacted"] else rows[i]["title"], rows[i]["service"], rows[i]["severity"],
                rows[i]["declared_at"], snippet_parts(texts[i], weights), bool(rows[i]["redacted"]))
            for i in order[:limit]]


def incident_services(store: Store) -> list[str]:
    """Every service named by an incident, sorted (services are visible at every confidentiality level)."""
    t = store.table("incidents")
    return sorted(t.filter(t.service.notnull()).select("service").distinct().service.to_pyarrow().to_pylist())
