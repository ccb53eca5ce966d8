"""The SLO leadership report: per service, how much error budget is left, what consumed it, which policy
stage applies and what happens next; as Markdown or as one self-contained HTML page.

Content, per service (services with the least budget left first, then by name):

- a one-line summary: the objective/window with the least budget left (the one the release gate judges
  by), how much of that budget is used, and the largest single consumer of it (one incident, the
  deployments together, or the unattributed rest), e.g. `checkout has used 74.6 % of its 7-day
  availability budget; 53.2 % of that during INC-1.`;
- budget status of every objective and window (`engmetrics.slo.status`): target, SLI, budget left, state,
  burn rate over the window, time to exhaustion at the 1-day burn rate; a composite SLO's journey line
  (`objective: composite`) is shown here only, its objectives' budgets being attributed one by one;
- what consumed each budget (`engmetrics.slo.attribution`): incidents with ids, titles and shares,
  deployments and their share, the unattributed rest, and the exclusions with their reasons and the
  budget they removed;
- the error-budget policy stage (`engmetrics.slo.policy`, judged by `engmetrics.slo.gate.decide`): stage,
  actions, whether releases are allowed or frozen (an override in force is mentioned, without who made
  it), and the next stage with the budget left at which it starts.

The report is written without blame: it describes systems and events (incident and deployment ids,
titles, exclusion reasons), never people: no person column of any dataset is read (`approved_by`,
`overridden_by`, responders, authors). It depends only on the store, the specs and `at`: the same `at`
gives the same bytes.

>>> from datetime import datetime, UTC
>>> from engmetrics.store import Store
>>> from engmetrics.slo.loader import SloSet
>>> r = build_slo_report(Store.open("duckdb://"), SloSet(), datetime(2026, 3, 1, tzinfo=UTC), title="Acme")
>>> print(render_markdown(r).splitlines()[0]); r.services
# Acme
[]
>>> render_html(r).startswith("<!DOCTYPE html>")
True
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ..charts import format_value
from ..report.markdown import _table
from ..report.text import STATUS_SYMBOL, long_date
from ..timeutil import as_utc
from .attribution import DEFAULT_DEPLOY_WINDOW, Attribution, budget_attribution, is_composite_item
from .gate import OVERRIDES, active_override, decide, lowest_budget
from .loader import SloSet
from .policy import INSUFFICIENT_DATA, PolicySet
from .status import slo_status

if TYPE_CHECKING:
    from engmetrics.store import Store

__all__ = ["ObjectiveBudget", "PolicyView", "ServiceBudget", "SloLeadershipReport", "build_slo_report",
           "render_html", "render_markdown"]

_STATE_RAG = {"ok": "green", "warning": "amber", "exhausted": "red", "insufficient_data": "no_data"}
_UNITS = {"d": "day", "w": "week", "h": "hour", "m": "minute", "M": "month", "Q": "quarter", "Y": "year"}


# --- model ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ObjectiveBudget:
    """One objective over one window: its status item and what consumed its budget.

    A composite SLO's journey item has no attribution (None): its objectives are attributed one by one, so
    it shows in the budget status table only.
    """

    status: dict[str, Any]
    attribution: Attribution | None


@dataclass(frozen=True)
class PolicyView:
    """The error-budget policy stage of one service and what happens next."""

    policy: str
    policy_source: str
    stage: str
    actions: list[str]
    releases_allowed: bool
    blocked_by_policy: bool
    driven_by: dict[str, Any] | None
    next_stage: str | None = None
    next_below: float | None = None  # the next stage starts when less than this budget share is left
    next_actions: list[str] = field(default_factory=list)
    next_blocks_releases: bool = False
    next_in_hours: float | None = None  # at the 1-day burn rate
    override_expires_at: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ServiceBudget:
    service: str
    summary: str
    objectives: list[ObjectiveBudget]
    policy: PolicyView | None


@dataclass(frozen=True)
class SloLeadershipReport:
    """What the report says, independent of its rendering (`to_dict()` for JSON)."""

    title: str
    at: datetime
    deploy_window: str
    services: list[ServiceBudget]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (SLO, why it is not computed here)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "at": self.at.isoformat(), "deploy_window": self.deploy_window,
                "services": [{"service": s.service, "summary": s.summary,
                              "objectives": [{"status": o.status,
                                              "attribution": o.attribution.to_dict() if o.attribution else None}
                                             for o in s.objectives],
                              "policy": asdict(s.policy) if s.policy else None} for s in self.services],
                "skipped": [{"slo": n, "reason": r} for n, r in self.skipped]}


# --- words and numbers ------------------------------------------------------------------------------------

def percent(value: float | None) -> str:
    """A fraction as a percentage, three significant-ish digits: `74.6 %`, `−12 %`, `–` when unknown.

    >>> percent(0.746031), percent(0.5), percent(-0.1), percent(None)
    ('74.6 %', '50 %', '−10 %', '–')
    """
    if value is None:
        return "–"
    return f"{format_value(value * 100)} %".replace("-", "−")


def target_percent(value: float | None) -> str:
    """A target or SLI with up to three decimals: `99.9 %`, `99.995 %`.

    >>> target_percent(0.99995), target_percent(0.997), target_percent(0.9977619)
    ('99.995 %', '99.7 %', '99.776 %')
    """
    if value is None:
        return "no data"
    return f"{value * 100:.3f}".rstrip("0").rstrip(".") + " %"


def window_words(label: str) -> str:
    """`28d` -> `28-day`, `1M calendar` -> `1-month calendar`.

    >>> window_words("28d"), window_words("1M calendar"), window_words("90m")
    ('28-day', '1-month calendar', '90-minute')
    """
    head, _, rest = label.partition(" ")
    match = re.fullmatch(r"([0-9]+)([a-zA-Z])", head)
    if not match or match[2] not in _UNITS:
        return label
    return f"{match[1]}-{_UNITS[match[2]]}" + (f" {rest}" if rest else "")


def hours_text(hours: float | None) -> str:
    """`5.5 h` under two days, else in days (`2.38 days`); `–` when unknown.

    >>> hours_text(57.19), hours_text(5.5), hours_text(None)
    ('2.38 days', '5.5 h', '–')
    """
    if hours is None:
        return "–"
    return f"{format_value(hours / 24)} days" if hours >= 48 else f"{format_value(hours)} h"


def amount_text(amount: float, unit: str) -> str:
    """Spent budget in its unit: `25 bad events`, `1 bad slice`, `0.5 slice error`."""
    if unit == "slice error":
        return f"{format_value(amount)} slice error"
    word = {"events": "event", "slices": "slice"}[unit]
    return f"{format_value(amount)} bad {word}{'' if amount == 1 else 's'}"


def _time(text: str | None) -> str:
    if text is None:
        return "open"
    t = datetime.fromisoformat(text).astimezone(UTC)
    return f"{long_date(t.date())} {t:%H:%M} UTC"


def _period(start: str, end: str | None) -> str:
    if end is None:
        return f"{_time(start)} – still open"
    a, b = datetime.fromisoformat(start).astimezone(UTC), datetime.fromisoformat(end).astimezone(UTC)
    if a.date() == b.date():
        return f"{long_date(a.date())} {a:%H:%M}–{b:%H:%M} UTC"
    return f"{_time(start)} – {_time(end)}"


def state_label(state: str) -> str:
    """`▲ warning`: the metrics report's RAG symbols, so state is never carried by colour alone."""
    return f"{STATUS_SYMBOL[_STATE_RAG.get(state, 'no_data')]} {state.replace('_', ' ')}"


def _objective_name(status: dict[str, Any]) -> str:
    name = status["objective"]
    return status["slo"] if name == str(status["objective_index"]) else name


def _source_text(source: str) -> str:
    """`maintenance_windows:MW-1` -> `maintenance window MW-1`; `slo:x:corrections[0]` -> `correction 0 of x`."""
    if source.startswith("maintenance_windows:"):
        return f"maintenance window {source.split(':', 1)[1]}"
    match = re.fullmatch(r"slo:(.+):corrections\[([0-9]+)\]", source)
    return f"correction {match[2]} of SLO {match[1]}" if match else source


# --- building ------------------------------------------------------------------------------------------

def _driver(objectives: list[ObjectiveBudget]) -> ObjectiveBudget | None:
    """The objective and window the release gate judges by (`gate.lowest_budget`), None when none is judged."""
    worst = lowest_budget(o.status for o in objectives)
    return next(o for o in objectives if o.status is worst) if worst is not None else None


def _attributed(objectives: list[ObjectiveBudget]) -> list[tuple[ObjectiveBudget, Attribution]]:
    """The objectives with an attribution (all but composite journeys)."""
    return [(o, o.attribution) for o in objectives if o.attribution is not None]


def _summary(service: str, objectives: list[ObjectiveBudget]) -> str:
    worst = _driver(objectives)
    if worst is None:
        first = objectives[0].status
        return (f"{service} does not have enough events to judge its budgets yet "
                f"({format_value(first['total'])} events in the {window_words(first['window'])} window of "
                f"{_objective_name(first)}).")
    s, a = worst.status, worst.attribution
    used = 1 - s["error_budget"]["remaining"]
    what = f"its {window_words(s['window'])} {_objective_name(s)} budget"
    if a is None:  # a composite journey: its objectives' attributions say what consumed it
        return f"{service} has used {percent(used)} of {what}" + (" (overspent)." if used > 1 else ".")
    if a.consumed <= 0:
        return f"{service} has used none of {what}."
    text = f"{service} has used {percent(used)} of {what}"
    if used > 1:
        text += " (overspent)"
    causes = [(i["consumed"], f"during {i['incident_id']}") for i in a.incidents]
    if a.deployments:
        causes.append((a.deployment_consumed, f"within {a.deploy_window} after deployments"))
    causes.append((a.unattributed, "outside any incident or deployment window"))
    amount, where = max(causes, key=lambda c: c[0])  # first on a tie: incidents, then deployments
    return f"{text}; {percent(a.share(amount))} of that {where}."


def _next_stage(decision: Any, status: dict[str, Any] | None) -> dict[str, Any]:
    """The stage that follows as the budget keeps running down, and when at the 1-day burn rate."""
    if status is None or decision.stage == INSUFFICIENT_DATA:
        return {}
    remaining = status["error_budget"]["remaining"]
    harsher = [s for s in decision.policy.model.stages if s.below is not None and s.below <= remaining]
    if not harsher:
        return {}
    nxt = max(harsher, key=lambda s: s.below)
    hours = status.get("time_to_exhaustion_hours")
    eta = hours * (remaining - nxt.below) / remaining if hours and remaining > 0 else None
    return {"next_stage": nxt.name, "next_below": nxt.below, "next_actions": list(nxt.actions),
            "next_blocks_releases": nxt.block_releases, "next_in_hours": None if eta is None else round(eta, 3)}


def _policy_view(store: Store, items: list[dict[str, Any]], service: str, policies: PolicySet,
                 at: datetime, objectives: list[ObjectiveBudget]) -> PolicyView:
    decision = decide(items, service, policies.for_service(service))
    allowed, expires = decision.allowed, None
    if decision.blocked_by_policy and OVERRIDES in store.backend.list_tables():
        found = active_override(store, service, decision.stage, at)
        if found is not None:
            allowed, expires = True, found["expires_at"]
    worst = _driver(objectives)
    return PolicyView(decision.policy.name, decision.policy.source, decision.stage, list(decision.actions), allowed,
                      decision.blocked_by_policy, decision.driven_by,
                      **_next_stage(decision, worst.status if worst else None),
                      override_expires_at=expires, notes=list(decision.notes))


def build_slo_report(store: Store, specs: SloSet, at: datetime, *, title: str = "SLO report", zone: str = "UTC",
                     min_events: float = 100, warning_remaining: float = 0.25,
                     deploy_window: str = DEFAULT_DEPLOY_WINDOW, policies: PolicySet | None = None
                     ) -> SloLeadershipReport:
    """The report at `at` (see the module docstring); `policies` default: the built-in policy for all."""
    at = as_utc(at)
    status = slo_status(store, specs, at, zone=zone, min_events=min_events, warning_remaining=warning_remaining)
    attributions = iter(budget_attribution(store, specs, status.items, deploy_window=deploy_window))
    by_service: dict[str, list[ObjectiveBudget]] = {}
    for item in status.items:  # composite items have no attribution; the others one each, in order
        attribution = None if is_composite_item(item) else next(attributions)
        by_service.setdefault(item["service"], []).append(ObjectiveBudget(item, attribution))
    policies = policies if policies is not None else PolicySet()
    services = [ServiceBudget(name, _summary(name, objectives), objectives,
                              _policy_view(store, status.items, name, policies, at, objectives))
                for name, objectives in by_service.items()]

    def urgency(s: ServiceBudget) -> tuple[int, float, str]:
        worst = _driver(s.objectives)
        return (0, worst.status["error_budget"]["remaining"], s.service) if worst else (1, 0.0, s.service)

    return SloLeadershipReport(title, at, deploy_window, sorted(services, key=urgency), sorted(status.skipped))


# --- layout: plain strings shared by both renderers -----------------------------------------------------

@dataclass(frozen=True)
class _Row:
    cells: list[str]
    css: str = ""


def _status_rows(s: ServiceBudget) -> list[_Row]:
    rows = []
    for o in s.objectives:
        i = o.status
        rate = i["burn_rates"].get("1d")
        rows.append(_Row([i["slo"], _objective_name(i), i["window"], target_percent(i["target"]),
                          target_percent(i["sli"]), percent(i["error_budget"]["remaining"]), state_label(i["state"]),
                          "–" if rate is None else f"{format_value(rate)}×",
                          hours_text(i["time_to_exhaustion_hours"])], _STATE_RAG.get(i["state"], "no_data")))
    return rows


_STATUS_HEADER = ["SLO", "Objective", "Window", "Target", "SLI", "Budget left", "State", "Burn rate (1 day)",
                  "Time to exhaustion"]
_CAUSE_HEADER = ["What", "When", "Consumed", "Share of consumed", "Share of budget"]
_EXCLUSION_HEADER = ["Excluded period", "Reason", "When", "Events removed", "Bad events removed", "Budget removed"]


def _cause_rows(a: Attribution) -> list[list[str]]:
    rows = []
    for i in a.incidents:
        title = f"{i['incident_id']}: {i['title']}" if i["title"] else i["incident_id"]
        rows.append([f"Incident {title}", _period(i["start"], i["end"]), amount_text(i["consumed"], a.unit),
                     percent(i["share"]), percent(_fraction(i["consumed"], a.allowed))])
    for d in a.deployments:
        kind = "rollback" if d["is_rollback"] else "deployment"
        rows.append([f"Within {a.deploy_window} after {kind} {d['deployment_id']} ({d['status']})",
                     _time(d["started_at"]), amount_text(d["consumed"], a.unit), percent(d["share"]),
                     percent(_fraction(d["consumed"], a.allowed))])
    if a.unattributed or not rows:
        rows.append(["Unattributed (no incident or deployment window)", "", amount_text(a.unattributed, a.unit),
                     percent(a.share(a.unattributed)), percent(_fraction(a.unattributed, a.allowed))])
    return rows


def _fraction(part: float, whole: float | None) -> float | None:
    return part / whole if whole else None


def _exclusion_rows(a: Attribution) -> list[list[str]]:
    return [[_source_text(e["source"]), e["reason"] or "(no reason given)", _period(e["start"], e["end"]),
             format_value(e["total"]), format_value(e["bad"]), percent(e["budget_removed"])
             if e["budget_removed"] is not None else "– (slices)"] for e in a.exclusions]


def _attribution_title(s: dict[str, Any], a: Attribution) -> str:
    allowed = "–" if a.allowed is None else format_value(a.allowed)
    return (f"{s['slo']} · {_objective_name(s)} · {s['window']}: {amount_text(a.consumed, a.unit)} of "
            f"{allowed} allowed ({s['budgeting_method']})")


def _policy_lines(p: PolicyView) -> list[str]:
    releases = "releases allowed" if p.releases_allowed else "releases frozen"
    if p.releases_allowed and p.blocked_by_policy:
        releases = f"releases allowed by an override in force until {_time(p.override_expires_at)}"
    lines = [f"Stage {p.stage} ({releases}) under policy {p.policy} ({p.policy_source})."]
    if p.driven_by:
        d = p.driven_by
        lines.append(f"Judged by {d['slo']} · {d['objective']} · {d['window']}, "
                     f"{percent(d['remaining'])} of its budget left.")
    lines.append("Actions now: " + ("; ".join(p.actions) if p.actions else "none listed") + ".")
    if p.next_stage is not None:
        when = f" (at the current 1-day burn rate in about {hours_text(p.next_in_hours)})" if p.next_in_hours else ""
        then = "; ".join(p.next_actions) or "none listed"
        freeze = " (releases frozen)" if p.next_blocks_releases else ""
        below = ("once the budget is overspent" if p.next_below == 0
                 else f"when less than {percent(p.next_below)} of the budget is left")
        lines.append(f"Next: stage {p.next_stage}{freeze} {below}{when}; its actions: {then}.")
    elif p.stage != INSUFFICIENT_DATA:
        lines.append("Next: no harsher stage in this policy.")
    lines += p.notes
    return lines


_INTRO = ("Budget left is the share of each error budget still unspent in the current window (negative: "
          "overspent). What consumed it: every bad event (Occurrences) or bad slice (Timeslices; "
          "RatioTimeslices: each slice's error ratio) counted once, in this order: during an incident of "
          "the service (impact start, else declared, until resolved, else mitigated, else now), else within "
          "{window} after a production deployment of the service, else unattributed. Excluded periods "
          "(maintenance windows, corrections) are removed first. Times in UTC.")


# --- Markdown ---------------------------------------------------------------------------------------------

def render_markdown(report: SloLeadershipReport) -> str:
    """The report as GitHub-flavoured Markdown (tables from the metrics report's renderer)."""
    out = [f"# {report.title}", "", f"Error budgets as of {_time(report.at.isoformat())}.", "",
           _INTRO.format(window=report.deploy_window), ""]
    if not report.services:
        out += ["No SLO could be computed from the store.", ""]
    else:
        out += ["## Summary", ""]
        out += _table(["Service", "Summary", "Policy stage", "Releases"],
                      [[s.service, s.summary, s.policy.stage if s.policy else "–",
                        ("allowed" if s.policy.releases_allowed else "frozen") if s.policy else "–"]
                       for s in report.services])
    for s in report.services:
        out += [f"## {s.service}", "", f"**{s.summary}**", "", "### Budget status", ""]
        out += _table(_STATUS_HEADER, [r.cells for r in _status_rows(s)])
        out += ["### What consumed the budget", ""]
        for o, a in _attributed(s.objectives):
            out += [f"#### {_attribution_title(o.status, a)}", ""]
            out += _table(_CAUSE_HEADER, _cause_rows(a))
            if a.exclusions:
                out += ["Excluded before budgeting:", ""]
                out += _table(_EXCLUSION_HEADER, _exclusion_rows(a))
        if s.policy:
            out += ["### Error-budget policy", ""]
            out += [f"- {line}" for line in _policy_lines(s.policy)] + [""]
    if report.skipped:
        out += ["## Not computed here", ""]
        out += [f"- {name}: {reason}" for name, reason in report.skipped] + [""]
    return "\n".join(out).rstrip() + "\n"


# --- HTML -------------------------------------------------------------------------------------------------

@cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("engmetrics", "templates"), autoescape=select_autoescape(default=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@cache
def _report_css() -> Markup:
    """The metrics report's stylesheet (templates/report/report.html.j2), shared rather than copied."""
    env = _environment()
    source, _, _ = env.loader.get_source(env, "report/report.html.j2")  # type: ignore[union-attr]
    match = re.search(r"<style>(.*?)</style>", source, re.S)
    return Markup(match[1] if match else "")


def render_html(report: SloLeadershipReport) -> str:
    """The report as one self-contained HTML page: inline CSS, no scripts, no external resources."""
    services = [{"name": s.service, "summary": s.summary, "status": _status_rows(s),
                 "objectives": [(_attribution_title(o.status, a), _cause_rows(a), _exclusion_rows(a))
                                for o, a in _attributed(s.objectives)],
                 "policy": _policy_lines(s.policy) if s.policy else None,
                 "stage": s.policy.stage if s.policy else "–",
                 "releases": ("allowed" if s.policy.releases_allowed else "frozen") if s.policy else "–"}
                for s in report.services]
    return _environment().get_template("slo/report.html.j2").render(
        title=report.title, at=_time(report.at.isoformat()), intro=_INTRO.format(window=report.deploy_window),
        css=_report_css(), services=services, skipped=report.skipped, status_header=_STATUS_HEADER,
        cause_header=_CAUSE_HEADER, exclusion_header=_EXCLUSION_HEADER)
