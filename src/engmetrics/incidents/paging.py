"""Who an alert pages: the one definition of a page, and the rotation and person on call when it fired.

* **Page** (`is_page`): an alert whose `urgency` is not "low"; a null urgency counts as a page (an alert
  nobody classified is assumed to interrupt). The fatigue report and the on-call load both use it.
* **Rotation and person paged** (`with_oncall`), for an alert fired at `fired_at`, with "the shift
  holding `fired_at`" meaning `start_at <= fired_at < end_at`:

  1. with a `responder`: the rotation of the responder's shift holding `fired_at`, and the responder;
     no such shift: rotation null (the responder answered outside any rotation), person the responder;
  2. without a responder (nobody acknowledged): the shift holding `fired_at` of the alert's team
     (`alerts.team`, else the owning team `services.team` of `alerts.service`, matched on
     `oncall_shifts.team`): its rotation and its person, because an unanswered page still interrupted
     whoever was on call;
  3. else both null.

  When several shifts qualify, the latest-starting one wins, then the first rotation and person by name.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from ..store import Store

__all__ = ["first_match", "is_page", "with_oncall"]


def is_page(alerts: ir.Table) -> ir.BooleanValue:
    """Whether each alert is a page: urgency not "low", null included (see the module doc).

    >>> t = ibis.memtable({"urgency": ["high", "low", None]}, schema={"urgency": "string"})
    >>> t.select(page=is_page(t)).to_pyarrow().column("page").to_pylist()
    [True, False, True]
    """
    return alerts.urgency.isnull() | (alerts.urgency != "low")


def first_match(left: ir.Table, right: ir.Table, predicates: Sequence[ir.BooleanValue], *, key: str,
                order: Sequence[object]) -> ir.Table:
    """`left` left-joined to `right` on `predicates`, one row per value of `left[key]` (unique in `left`):
    the match first in `order` (sort keys of the joined columns, e.g. `ibis.desc("_start")`), or the left
    row with null right columns when nothing matches.

    >>> a = ibis.memtable({"id": [1, 2], "at": [5, 5]})
    >>> s = ibis.memtable({"_from": [0, 3, 9], "_name": ["old", "new", "later"]})
    >>> m = first_match(a, s, [(a.id == 1) & (s._from <= a.at)], key="id", order=[ibis.desc("_from")])
    >>> sorted(m.select("id", "_name").to_pyarrow().to_pylist(), key=lambda r: r["id"])
    [{'id': 1, '_name': 'new'}, {'id': 2, '_name': None}]
    """
    joined = left.left_join(right, list(predicates))
    n = ibis.row_number().over(group_by=joined[key], order_by=list(order))
    return joined.mutate(_n=n).filter(ibis._._n == 0).drop("_n")


def _shifts(store: Store, prefix: str) -> ir.Table:
    s = store.table("oncall_shifts")
    return s.select(**{f"{prefix}person": s.person, f"{prefix}rotation": s.rotation, f"{prefix}team": s.team,
                       f"{prefix}start": s.start_at, f"{prefix}end": s.end_at})


def with_oncall(store: Store, alerts: ir.Table) -> ir.Table:
    """`alerts` (needs alert_id, fired_at, responder, team, service) plus `rotation` and `paged` (the person
    the page interrupted), as in the module doc."""
    alerts = alerts.view()
    services = store.table("services").select(_svc="service", _owner="team")
    owned = alerts.left_join(services, alerts.service == services._svc)
    owned = owned.select(*alerts.columns, _alert_team=owned.team.coalesce(owned._owner)).view()
    mine = _shifts(store, "_r_")
    by_responder = first_match(owned, mine, [owned.responder == mine._r_person, mine._r_start <= owned.fired_at,
                                             owned.fired_at < mine._r_end],
                               key="alert_id", order=[ibis.desc("_r_start"), "_r_rotation"])
    by_responder = by_responder.select(*owned.columns, "_r_rotation").view()
    team = _shifts(store, "_t_")
    unanswered = by_responder.responder.isnull()
    picked = first_match(by_responder, team, [unanswered, by_responder._alert_team == team._t_team,
                                              team._t_start <= by_responder.fired_at,
                                              by_responder.fired_at < team._t_end],
                         key="alert_id", order=[ibis.desc("_t_start"), "_t_rotation", "_t_person"])
    return picked.select(*alerts.columns, rotation=picked._r_rotation.coalesce(picked._t_rotation),
                         paged=picked.responder.coalesce(picked._t_person))
