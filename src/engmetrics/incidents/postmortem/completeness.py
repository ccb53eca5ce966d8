"""Completeness of postmortems: per postmortem, the weighted share of the standard's fields that are
present and valid; per team, the mean and distribution over the team's postmortems.

Weights (per mille, sum 1000; `WEIGHTS`): identity 100 (incident_id, title, service, severity: 25 each),
summary 100, impact 150 (users_affected, duration_minutes, slo_budget_consumed: 50 each), timeline 200
(impact_started, detected, acknowledged, mitigated, resolved: 40 each), detection_source 50,
contributing_factors 100, trigger 50, resolution 50, action_items 100, lessons 50 (went_well 20,
went_wrong 20, got_lucky 10), confidentiality 25, authors 25.

A field earns its weight when it is present (not empty) and no validation issue (ERROR or WARNING)
concerns it. `action_items` earns its weight times the share of listed items without an issue, and
nothing when the list is empty. A file without readable front matter scores 0.

Per team (`completeness_by_team`), over postmortems in the `postmortems` dataset: the team is the
incident's team in `incidents`, else the postmortem's own `team`. Every incident of severity <= 2 (by
default) without a postmortem counts as one postmortem scoring 0. Teams without any such row are absent.
Columns: team, postmortems, missing (severe incidents without one), n (= postmortems + missing),
mean_score, min_score, max_score, and the distribution as counts: below_50 (score < 0.5), from_50
(0.5 <= score < 0.8), from_80 (0.8 <= score < 1), complete (score = 1).

>>> from .model import parse_text
>>> from .validate import validate
>>> doc = parse_text("---\\nincident_id: INC-1\\ntitle: Down\\nsummary: It broke.\\n---\\n", "INC-1.md")
>>> score(doc, validate(doc))  # incident_id 25 + title 25 + summary 100
0.15
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from ...store import Store
from .model import Postmortem
from .validate import PostmortemIssue, is_empty

__all__ = ["WEIGHTS", "completeness_by_team", "completeness_per_postmortem", "score"]

WEIGHTS: dict[str, int] = {
    "incident_id": 25, "title": 25, "service": 25, "severity": 25, "summary": 100,
    "impact.users_affected": 50, "impact.duration_minutes": 50, "impact.slo_budget_consumed": 50,
    "timeline.impact_started": 40, "timeline.detected": 40, "timeline.acknowledged": 40,
    "timeline.mitigated": 40, "timeline.resolved": 40,
    "detection_source": 50, "contributing_factors": 100, "trigger": 50, "resolution": 50, "action_items": 100,
    "went_well": 20, "went_wrong": 20, "got_lucky": 10, "confidentiality": 25, "authors": 25,
}


def _items_share(doc: Postmortem, issues: Sequence[PostmortemIssue]) -> tuple[int, int]:
    """(items without an issue, items listed)."""
    items = doc.get("action_items")
    if not isinstance(items, list) or any(i.field == "action_items" and i.item is None for i in issues):
        return 0, 0
    bad = {i.item for i in issues if i.field == "action_items"}
    return len(items) - len(bad), len(items)


def score(doc: Postmortem, issues: Sequence[PostmortemIssue]) -> float:
    """The postmortem's completeness in [0, 1], from its validation `issues` (see the module doc)."""
    if doc.front is None:
        return 0.0
    flagged = {i.field for i in issues}
    earned = sum(weight for field, weight in WEIGHTS.items()
                 if field != "action_items" and field not in flagged and not is_empty(doc.get(*field.split("."))))
    good, listed = _items_share(doc, issues)
    items = WEIGHTS["action_items"] * good / listed if listed else 0
    return round((earned + items) / 1000, 6)


def _scored(store: Store, max_severity: int) -> ir.Table:
    """One row per postmortem and per severe incident without one: incident_id, team, has_postmortem, score."""
    pm, inc = store.table("postmortems"), store.table("incidents")
    teams = inc.select("incident_id", inc_team=inc.team)
    written = pm.left_join(teams, "incident_id").select(
        "incident_id", team=ibis.coalesce(ibis._.inc_team, ibis._.team), has_postmortem=ibis.literal(True),
        score=ibis._.completeness.cast("float64"))
    severe = inc.filter(inc.severity <= max_severity)
    missing = severe.anti_join(pm, "incident_id").select(
        "incident_id", "team", has_postmortem=ibis.literal(False), score=ibis.literal(0.0, "float64"))
    return written.union(missing)


def completeness_per_postmortem(store: Store, max_severity: int = 2) -> ir.Table:
    """incident_id, team, has_postmortem, score: every postmortem, and every incident of severity <=
    `max_severity` without one (score 0), ordered by team and incident."""
    return _scored(store, max_severity).order_by(["team", "incident_id"])


def completeness_by_team(store: Store, max_severity: int = 2) -> ir.Table:
    """Per team: postmortems, missing, n, mean_score, min_score, max_score, below_50, from_50, from_80,
    complete (see the module doc)."""
    t = _scored(store, max_severity)
    s = t.score
    return t.group_by("team").aggregate(
        postmortems=t.has_postmortem.cast("int64").sum(), missing=(~t.has_postmortem).cast("int64").sum(),
        n=t.count(), mean_score=s.mean(), min_score=s.min(), max_score=s.max(),
        below_50=(s < 0.5).cast("int64").sum(), from_50=((s >= 0.5) & (s < 0.8)).cast("int64").sum(),
        from_80=((s >= 0.8) & (s < 1.0)).cast("int64").sum(), complete=(s >= 1.0).cast("int64").sum(),
    ).order_by("team")
