"""Cost allocation: who owns each line of the bill, per UTC day (rules in `engmetrics.cost.allocation_rules`).

`allocated_daily(store, rules, by, start, end, basis)` is an Ibis table with one row per (day, group,
currency): `day` is the UTC date of `ChargePeriodStart`, rows count when `start <= ChargePeriodStart < end`;
`direct` is the cost owned by the group, `shared` its part of shared cost, `cost = direct + shared`. The cost is
`EffectiveCost` (basis `effective`, amortised: commitment purchases spread over the usage they cover) or
`BilledCost` (basis `billed`, as invoiced). `currency` is `engmetrics.cost.columns.currency` ("(unknown)" when
missing): amounts in different currencies are never added, every split happens within one currency. With
`by_provider=True` the rows are also split by `provider` (`ProviderName` of the bill rows the cost comes from;
shared cost keeps the provider of the shared row), summing to the same totals.

`by` is `team`, `service`, `environment` or `tag:KEY`. For a row and a dimension the owner is, in order of
precedence: a shared-cost rule that applies in the view (the row is shared, see below) > the first matching
owner rule naming the dimension > the dimension's tag keys (aliases in their order) > its fallbacks in order
(`tag:KEY`, or for team the `services` dataset's team of the row's service) > none, the explicit group
"(untagged)". `tag:KEY` groups by that one tag key's value (no rules, aliases or fallbacks). Tags are read by
`engmetrics.cost.tags` (key case ignored, `key_prefixes` allowed, values as written).

**Group names.** Values are compared without regard to case: `Payments`, `payments` and `PAYMENTS` are one
group. It is shown under its canonical name when it is a team or service of the `teams` / `services` datasets
(any case), else under its most common spelling: the one on most of the period's cost rows naming it (a tie
goes to the first in sort order; a group only named by a rule or by `business_volume` keeps that spelling).

**Shared cost.** A shared rule that is about one dimension, because it matches `untagged: true` (no owner in
that dimension) or names groups (`among`, `percentages`), applies only in the view of its `to` dimension
(`by == rule.to`); any other rule applies in every view. Where a rule does not apply it is skipped: its rows
are taken by the next matching shared rule that applies, else they are direct cost of their group in that view
(so `untagged: true` for teams never moves a service-tagged row's cost in `--by service`). The cost of the
rows a rule takes is split per day and currency among the report's groups other than "(untagged)":
`even` (each group with positive direct cost that day, or each `among` group), `proportional` (to positive
direct cost that day), `usage` (to the day's `business_volume` metric of the group's services, or the day's
summed `utilization` column of the resources whose direct cost the group owns most of in the period; resource
ids compare without regard to case) or `fixed` percentages. Shared cost with no basis to split on (no group
with positive weight that day, or a `business_volume` split in a view other than team or service) is the
explicit group "(unallocated)". So the groups always add up to the total cost of the period, currency by
currency.

`tag_coverage` says, per provider, account (`SubAccountId`, else `BillingAccountId`) and currency, how the
cost was allocated for `by`: by tags, owner rules, fallbacks, shared-cost rules, or not at all (untagged);
`coverage = tagged / cost` (None when the cost is 0).

`resource_owners` names the team and service of each resource as the same rules do (for idle resources).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from ..errors import InputError
from ..store import Store
from ..timeutil import as_utc
from .allocation_rules import DIMENSIONS, AllocationRules, Match, Pattern, Regex, SharedRule, load_allocation_rules
from .columns import UNKNOWN_CURRENCY, charges, currency
from .tags import regex_literal, tag_value

__all__ = [
    "BASES", "UNALLOCATED", "UNKNOWN_CURRENCY", "UNTAGGED", "allocated_daily", "allocation_report",
    "load_allocation_rules", "parse_by", "resource_owners", "tag_coverage",
]

UNTAGGED = "(untagged)"
UNALLOCATED = "(unallocated)"
SPECIAL = (UNTAGGED, UNALLOCATED)
BASES = {"effective": "EffectiveCost", "billed": "BilledCost"}
SOURCES = ("tag", "rule", "fallback", "shared", "untagged")
_OWNERS = "owners"  # the plan of `resource_owners`: team and service of each resource, no shared rules


def parse_by(by: str) -> tuple[str, str | None]:
    """(`team` | `service` | `environment`, None) or (`tag`, lower-case KEY) for `tag:KEY`.

    >>> parse_by("team"), parse_by("tag:CostCenter")
    (('team', None), ('tag', 'costcenter'))
    """
    if by in DIMENSIONS:
        return by, None
    if by.startswith("tag:") and by[4:].strip():
        return "tag", by[4:].strip().lower()
    raise InputError(f"by must be one of {', '.join(DIMENSIONS)} or tag:KEY (got {by!r})")


# ---------------------------------------------------------------- matching

def _glob(value: ir.StringValue, glob: str) -> ir.BooleanValue:
    """`value` matches the glob without regard to case: `*` any text, `?` one character."""
    glob, value = glob.lower(), value.lower()
    inner = glob.strip("*")
    if "?" not in glob and "*" not in inner:
        if glob == inner:
            return value == glob
        if not inner:
            return value.notnull()
        starts, ends = glob.startswith("*"), glob.endswith("*")
        return value.contains(inner) if starts and ends else value.endswith(inner) if starts else \
            value.startswith(inner)
    body = "".join(".*" if c == "*" else "." if c == "?" else regex_literal(c) for c in glob)
    return value.re_search(f"^{body}$")


def _any(value: ir.StringValue, patterns: list[Pattern]) -> ir.BooleanValue:
    found = [value.re_search(f"(?i){p.regex}") if isinstance(p, Regex) else _glob(value, p) for p in patterns]
    out = found[0]
    for f in found[1:]:
        out |= f
    return out


def _all(conditions: list[ir.BooleanValue]) -> ir.BooleanValue:
    out = conditions[0]
    for c in conditions[1:]:
        out &= c
    return out.fill_null(False)


def _column_match(t: ir.Table, match: Match) -> ir.BooleanValue | None:
    """The match's FOCUS-column conditions on raw rows (None when it has none)."""
    conditions = [_any(t[c], p) for c, p in match.columns().items()]
    return _all(conditions) if conditions else None


# ---------------------------------------------------------------- the plan

@dataclass
class _Plan:
    """What one allocation needs: the view, the dimensions to resolve, the shared rules and tag keys."""

    rules: AllocationRules
    view: str
    tag_key: str | None
    basis: str

    def shared(self) -> list[tuple[int, SharedRule]]:
        """The shared rules that apply in this view, with their index (module docstring)."""
        if self.view == _OWNERS:
            return []
        return [(i, r) for i, r in enumerate(self.rules.shared) if r.applies_in(self.view)]

    def dimensions(self) -> list[str]:
        need = {"team", "service"} if self.view == _OWNERS else {self.view} - {"tag"}
        if "team" in need and "service" in self.rules.dimensions.team.fallbacks:
            need.add("service")
        return [d for d in ("service", "team", "environment") if d in need]  # service before team's fallback

    def tag_keys(self) -> list[str]:
        keys = [self.tag_key] if self.tag_key else []
        for d in self.dimensions():
            spec = self.rules.dimensions.of(d)
            keys += spec.keys + [f[4:] for f in spec.fallbacks if f.startswith("tag:")]
        for rule in [*self.rules.owners, *(r for _, r in self.shared())]:
            keys += list(rule.match.tag_conditions())
        return list(dict.fromkeys(keys))

    def needs_resources(self) -> bool:
        return self.view == _OWNERS or any(r.usage and r.usage.dataset == "utilization" for _, r in self.shared())


def _tag(key: str) -> str:
    return f"_tag_{key}"


# ---------------------------------------------------------------- resolution

def _aggregated(store: Store, plan: _Plan, start: datetime, end: datetime) -> ir.Table:
    """The period's rows summed (`_amount`) and counted (`_rows`) by everything allocation looks at (raw rows
    are scanned once, column rule conditions evaluated on them, tags left as text)."""
    t = charges(store, start, end)
    keys: dict[str, Any] = {
        "_day": t.ChargePeriodStart.date(), "_currency": currency(t, UNKNOWN_CURRENCY),
        "_provider": t.ProviderName, "_account": t.SubAccountId.fill_null(t.BillingAccountId), "_tags": t.Tags}
    rules = [("owner", i, r) for i, r in enumerate(plan.rules.owners)] + [("shared", i, r) for i, r in plan.shared()]
    for kind, i, rule in rules:
        if (condition := _column_match(t, rule.match)) is not None:
            keys[f"_{kind}{i}"] = condition
    if plan.needs_resources():
        keys["_resource"] = t.ResourceId.lower()
    return t.group_by(**keys).agg(_amount=t[BASES[plan.basis]].sum(), _rows=t.count())


def _with_tags(rows: ir.Table, plan: _Plan) -> ir.Table:
    """`rows` with one column per needed tag key, read once per distinct `Tags` text."""
    keys = plan.tag_keys()
    if not keys:
        return rows
    distinct = rows.select("_tags").distinct()
    distinct = distinct.filter(distinct._tags.notnull())
    prefixes = plan.rules.key_prefixes
    found = distinct.mutate(**{_tag(k): tag_value(distinct._tags, k, prefixes) for k in keys})
    return rows.left_join(found, "_tags").drop("_tags_right")


def _rule_match(rows: ir.Table, kind: str, i: int, match: Match, to: str | None = None) -> ir.BooleanValue:
    conditions = [rows[f"_{kind}{i}"]] if f"_{kind}{i}" in rows.columns else []
    conditions += [_any(rows[_tag(k)], p) for k, p in match.tag_conditions().items()]
    if match.untagged and to:
        conditions.append(rows[f"_src_{to}"] == "untagged")
    return _all(conditions)


def _lookup(store: Store, dataset: str, column: str, extra: str | None = None) -> ir.Table:
    """`dataset` by lower-cased `column`: `_key`, the canonical `_name` (and `_extra`), one row per key."""
    t = store.table(dataset)
    aggs = {"_name": t[column].min()} | ({"_extra": t[extra].min()} if extra else {})
    return t.filter(t[column].notnull()).group_by(_key=t[column].lower()).agg(**aggs)


def _canonical(store: Store, rows: ir.Table, dim: str) -> ir.Table:
    """`_v_DIM` replaced by its canonical name (teams / services, any case) when there is one; for services
    also `_service_team`, the owning team in `services`."""
    if dim == "environment":
        return rows
    column = f"_v_{dim}"
    table = _lookup(store, "services", "service", "team") if dim == "service" else _lookup(store, "teams", "team")
    joined = rows.left_join(table, rows[column].lower() == table._key)
    fields = {c: joined[c] for c in rows.columns} | {column: joined._name.fill_null(joined[column])}
    return joined.select(**fields, **({"_service_team": joined._extra} if dim == "service" else {}))


def _resolve(store: Store, rows: ir.Table, plan: _Plan, dim: str) -> ir.Table:
    """Adds `_v_DIM` (the owner, None when there is none) and `_src_DIM` (rule, tag, fallback, untagged)."""
    spec = plan.rules.dimensions.of(dim)
    named = [(i, r) for i, r in enumerate(plan.rules.owners) if r.owner(dim)]
    rule = ibis.cases(*((_rule_match(rows, "owner", i, r.match), r.owner(dim)) for i, r in named),
                      else_=ibis.null("string")) if named else ibis.null("string")
    tag = ibis.coalesce(*(rows[_tag(k)] for k in spec.keys)) if len(spec.keys) > 1 else rows[_tag(spec.keys[0])]
    fallbacks = [rows["_service_team"] if f == "service" else rows[_tag(f[4:])] for f in spec.fallbacks]
    fallback = ibis.coalesce(*fallbacks) if len(fallbacks) > 1 else fallbacks[0] if fallbacks else None
    source = ibis.cases((rule.notnull(), "rule"), (tag.notnull(), "tag"),
                        *([(fallback.notnull(), "fallback")] if fallback is not None else []), else_="untagged")
    value = ibis.coalesce(rule, tag, *([fallback] if fallback is not None else []))
    return _canonical(store, rows.mutate(**{f"_v_{dim}": value, f"_src_{dim}": source}), dim)


def _owned(store: Store, plan: _Plan, start: datetime, end: datetime) -> ir.Table:
    """Summed rows with `_v_DIM` and `_src_DIM` for each dimension of the plan."""
    rows = _with_tags(_aggregated(store, plan, start, end), plan)
    for dim in plan.dimensions():
        rows = _resolve(store, rows, plan, dim)
    return rows


def _resolved(store: Store, plan: _Plan, start: datetime, end: datetime) -> ir.Table:
    """Summed rows with `_shared` (index of the shared rule, None for direct cost), `_group` (the lower-case
    group key), `_spelling` (its name as this row gives it), `_rows` and `_source`."""
    rows = _owned(store, plan, start, end)
    shared = [(_rule_match(rows, "shared", i, r.match, r.to), i) for i, r in plan.shared()]
    if plan.view == "tag":
        name = rows[_tag(plan.tag_key or "")]
        source = ibis.cases((name.notnull(), "tag"), else_="untagged")
    else:
        name, source = rows[f"_v_{plan.view}"], rows[f"_src_{plan.view}"]
    name = name.fill_null(UNTAGGED)
    keep = ["_day", "_currency", "_provider", "_account", "_amount", "_rows",
            *(["_resource"] if plan.needs_resources() else [])]
    return rows.select(*keep, _shared=ibis.cases(*shared, else_=ibis.null("int64")) if shared else
                       ibis.null("int64"), _group=name.lower(), _spelling=name, _source=source)


def _spellings(rows: ir.Table, name: ir.StringValue, count: ir.IntegerValue) -> ir.Table:
    """Candidate names: `_group` (lower case), `_spelling`, `_n` (cost rows spelling it so)."""
    rows = rows.mutate(_name=name, _count=count).filter(lambda r: r._name.notnull())
    return rows.group_by(_group=rows._name.lower(), _spelling=rows._name).agg(_n=rows._count.sum())


def _display(candidates: list[ir.Table]) -> ir.Table:
    """`_group` -> `_name`: the candidate spelling on most cost rows, a tie to the first in sort order."""
    c = ibis.union(*candidates, distinct=False) if len(candidates) > 1 else candidates[0]
    c = c.group_by("_group", "_spelling").agg(_n=c._n.sum())
    rank = ibis.row_number().over(group_by=c._group, order_by=[ibis.desc(c._n), c._spelling])
    c = c.mutate(_rank=rank)
    return c.filter(c._rank == 0).select("_group", _name=c._spelling)


# ---------------------------------------------------------------- shared cost

def _targets(store: Store, rule: SharedRule) -> ir.Table | None:
    """The groups a rule names (`_group` key, canonical `_spelling`), with their weight (`_w`: percentage,
    else 1); None when it names none."""
    names = rule.targets()
    if names is None:
        return None
    weights = [rule.percentages[n] for n in names] if rule.percentages is not None else [1.0] * len(names)
    named = ibis.memtable({f"_v_{rule.to}": names, "_w": weights},
                          schema={f"_v_{rule.to}": "string", "_w": "float64"})
    named = _canonical(store, named, rule.to)
    name = named[f"_v_{rule.to}"]
    return named.group_by(_group=name.lower()).agg(_w=named._w.sum(), _spelling=name.min())


def _volume(store: Store, rule: SharedRule, plan: _Plan, start: datetime, end: datetime) -> ir.Table:
    """The day's `business_volume` metric per group of the view (`_day`, `_group`, `_spelling`, `_w`)."""
    assert rule.usage is not None
    v = store.table("business_volume")
    v = v.filter(v.metric == rule.usage.metric, v.ts >= as_utc(start), v.ts < as_utc(end))
    daily = _canonical(store, v.group_by(_day=v.ts.date(), _v_service=v.service).agg(_w=v.value.sum()), "service")
    if plan.view == "team":
        daily = _canonical(store, daily.mutate(_v_team=daily._service_team.fill_null(UNTAGGED)), "team")
    name = daily[f"_v_{plan.view}"]
    return daily.select("_day", "_w", _group=name.lower(), _spelling=name)


def _usage(store: Store, rule: SharedRule, plan: _Plan, resolved: ir.Table, start: datetime,
           end: datetime) -> ir.Table:
    """The day's usage per group (`_day`, `_group`, `_w`, and `_spelling` for business volume)."""
    assert rule.usage is not None
    if rule.usage.dataset == "utilization":
        u = store.table("utilization")
        u = u.filter(u.ts >= as_utc(start), u.ts < as_utc(end))
        used = u.group_by(_day=u.ts.date(), _resource=u.resource_id.lower()).agg(_w=u[rule.usage.column].sum())
        direct = resolved.filter(resolved._shared.isnull(), resolved._resource.notnull(),
                                 ~resolved._group.isin(SPECIAL))
        owned = direct.group_by("_resource", "_group").agg(_c=direct._amount.sum())
        owner = owned.group_by("_resource").agg(_group=owned._group.argmax(owned._c))
        by_group = used.join(owner, "_resource").filter(lambda t: ~t._group.isin(SPECIAL))
        return by_group.group_by("_day", "_group").agg(_w=by_group._w.sum())
    by_group = _volume(store, rule, plan, start, end).filter(lambda t: ~t._group.isin(SPECIAL))
    return by_group.group_by("_day", "_group").agg(_w=by_group._w.sum(), _spelling=by_group._spelling.min())


def _weights(store: Store, rule: SharedRule, plan: _Plan, resolved: ir.Table, direct: ir.Table,
             start: datetime, end: datetime) -> tuple[ir.Table, list[str]] | None:
    """(weights: `_group`, `_w` and the keys they vary by; those keys), None when this view has no basis for
    the rule (business volume names services, a team's are its services')."""
    if rule.usage and rule.usage.dataset == "business_volume" and plan.view not in ("team", "service"):
        return None
    named = _targets(store, rule)
    if rule.split == "fixed" or (rule.split == "even" and named is not None):
        assert named is not None
        return named, []
    if rule.split == "usage":
        weights, keys = _usage(store, rule, plan, resolved, start, end), ["_day"]
    else:
        owners = direct.filter(~direct._group.isin(SPECIAL), direct.direct > 0)
        w = owners.direct if rule.split == "proportional" else ibis.literal(1.0)
        weights, keys = owners.select("_day", "_currency", "_group", _w=w), ["_day", "_currency"]
    if named is not None:
        weights = weights.semi_join(named, "_group")
    return weights, keys


def _split(pools: ir.Table, found: tuple[ir.Table, list[str]] | None) -> list[ir.Table]:
    """The pools' cost shared by weight within each key, and what has no positive weight as unallocated."""
    if found is None:
        return [pools.mutate(_group=ibis.literal(UNALLOCATED), _share=pools._pool)]
    weights, keys = found
    w = weights.filter(weights._w > 0)
    if keys:
        totals = w.group_by(keys).agg(_total=w._w.sum())
        shares = pools.join(totals, keys).join(w, keys)
        unallocated = pools.anti_join(totals, keys).mutate(_group=ibis.literal(UNALLOCATED), _share=pools._pool)
    else:
        totals = w.agg(_total=w._w.sum())
        shares = pools.cross_join(totals).cross_join(w)
        unallocated = None
    shares = shares.mutate(_share=shares._pool * shares._w / shares._total)
    return [shares] + ([unallocated] if unallocated is not None else [])


def _columns(t: ir.Table, direct: Any, shared: Any, extra: list[str]) -> ir.Table:
    return t.select(_day=t._day, _group=t._group.cast("string"), _currency=t._currency,
                    direct=ibis.literal(direct, "float64") if isinstance(direct, float) else direct.cast("float64"),
                    shared=ibis.literal(shared, "float64") if isinstance(shared, float) else shared.cast("float64"),
                    **{c: t[c] for c in extra})


# ---------------------------------------------------------------- public

def allocated_daily(store: Store, rules: AllocationRules, by: str, start: datetime, end: datetime,
                    basis: str = "effective", *, by_provider: bool = False) -> ir.Table:
    """Cost per UTC day, group and currency: `day`, `group`, `direct`, `shared`, `cost`, `currency`, and
    `provider` with `by_provider` (module doc).

    >>> from datetime import UTC
    >>> with Store.open("duckdb://") as store:
    ...     _ = store.sql.execute(
    ...         "INSERT INTO cost (x_row_hash, BillingPeriodStart, BillingPeriodEnd, ChargePeriodStart, "
    ...         "ChargePeriodEnd, ChargeCategory, BilledCost, EffectiveCost, BillingCurrency, Tags) VALUES "
    ...         "('a', '2026-01-01', '2026-02-01', '2026-01-05', '2026-01-06', 'Usage', 10, 8, 'USD', "
    ...         "'{\\"Team\\": \\"Payments\\"}'), "
    ...         "('b', '2026-01-01', '2026-02-01', '2026-01-05', '2026-01-06', 'Usage', 5, 5, 'USD', NULL)")
    ...     t = allocated_daily(store, AllocationRules(), "team", datetime(2026, 1, 1, tzinfo=UTC),
    ...                         datetime(2026, 2, 1, tzinfo=UTC))
    ...     sorted((r["group"], r["cost"]) for r in t.to_pyarrow().to_pylist())
    [('(untagged)', 5.0), ('Payments', 8.0)]
    """
    if basis not in BASES:
        raise InputError(f"basis must be one of {', '.join(BASES)} (got {basis!r})")
    view, tag_key = parse_by(by)
    plan = _Plan(rules, view, tag_key, basis)
    extra = ["_provider"] if by_provider else []
    rows = _resolved(store, plan, start, end)
    names = [_spellings(rows, rows._spelling, rows._rows)]
    # one aggregate that every later step reads (the engines compute it once, as a common table expression)
    resolved = rows.group_by("_shared", "_day", "_currency", "_group", *extra,
                             *(["_resource"] if plan.needs_resources() else [])).agg(_amount=rows._amount.sum())
    direct = resolved.filter(resolved._shared.isnull())
    direct = direct.group_by("_day", "_currency", "_group", *extra).agg(direct=direct._amount.sum())
    parts = [_columns(direct, direct.direct, 0.0, extra)]
    if plan.shared():
        owners = direct.group_by("_day", "_currency", "_group").agg(direct=direct.direct.sum()) if extra else direct
        shared = resolved.filter(resolved._shared.notnull())
        pools = shared.group_by("_shared", "_day", "_currency", *extra).agg(_pool=shared._amount.sum())
        for i, rule in plan.shared():
            found = _weights(store, rule, plan, resolved, owners, start, end)
            if found is not None and "_spelling" in found[0].columns:
                names.append(found[0].select("_group", "_spelling", _n=ibis.literal(0, "int64")))
            for part in _split(pools.filter(pools._shared == i), found):
                parts.append(_columns(part, 0.0, part._share, extra))
    union = ibis.union(*parts, distinct=False) if len(parts) > 1 else parts[0]
    out = union.group_by(day=union._day, _group=union._group, currency=union._currency,
                         **({"provider": union._provider} if extra else {})).agg(
        direct=union.direct.sum(), shared=union.shared.sum())
    shown = _display(names)
    out = out.left_join(shown, "_group")
    return out.select("day", group=out._name.fill_null(out._group), direct=out.direct, shared=out.shared,
                      cost=out.direct + out.shared, currency=out.currency, **({"provider": out.provider} if extra
                                                                              else {}))


def tag_coverage(store: Store, rules: AllocationRules, by: str, start: datetime, end: datetime,
                 basis: str = "effective") -> ir.Table:
    """Per `provider`, `account`, `currency`: `cost` and how much of it was allocated by `tagged`, `rule`,
    `fallback`, `shared`, or is `untagged`, and `coverage` = tagged / cost (module doc)."""
    if basis not in BASES:
        raise InputError(f"basis must be one of {', '.join(BASES)} (got {basis!r})")
    view, tag_key = parse_by(by)
    r = _resolved(store, _Plan(rules, view, tag_key, basis), start, end)
    source = ibis.cases((r._shared.notnull(), "shared"), else_=r._source)
    sums = {("tagged" if s == "tag" else s): r._amount.sum(where=source == s).fill_null(0.0) for s in SOURCES}
    out = r.group_by(provider=r._provider, account=r._account, currency=r._currency).agg(
        cost=r._amount.sum().fill_null(0.0), **sums)
    return out.mutate(coverage=ibis.cases((out.cost != 0, out.tagged / out.cost), else_=ibis.null("float64")))


def resource_owners(store: Store, rules: AllocationRules, start: datetime, end: datetime) -> ir.Table:
    """The team and service of each resource with cost rows in `[start, end)`, as `allocated_daily` names them.

    Columns: `resource_id` (`ResourceId` in lower case: ids compare without regard to case, Azure cost exports
    write them in lower case, Azure Monitor in mixed case), `team`, `service` (None when the rules, tags and
    fallbacks name no owner). The owner is resolved per bill row like `--by team` / `--by service` (owner rules >
    tags > fallbacks; shared-cost rules do not apply: a resource of shared cost keeps the owner its rules or
    tags name); a resource whose rows name several owners gets those of its last UTC day with cost rows (the
    pair with the larger `EffectiveCost` that day, a tie to the first in sort order). Names are shown as in
    allocation: canonical, else the most common spelling over the window's cost rows.
    """
    rows = _owned(store, _Plan(rules, _OWNERS, None, "effective"), start, end)
    names = {dim: _display([_spellings(rows, rows[f"_v_{dim}"], rows._rows)]) for dim in ("team", "service")}
    rows = rows.filter(rows._resource.notnull() & (rows._resource != ""))
    pairs = rows.group_by("_resource", "_day", _team=rows._v_team.lower(), _service=rows._v_service.lower()).agg(
        _amount=rows._amount.sum())
    rank = ibis.row_number().over(group_by=pairs._resource, order_by=[
        ibis.desc(pairs._day), ibis.desc(pairs._amount), pairs._team.asc(nulls_first=False),
        pairs._service.asc(nulls_first=False)])
    pairs = pairs.mutate(_rank=rank)
    latest = pairs.filter(pairs._rank == 0)
    team = names["team"].select(_tk="_group", team="_name")
    service = names["service"].select(_sk="_group", service="_name")
    joined = latest.left_join(team, latest._team == team._tk).left_join(service, latest._service == service._sk)
    return joined.select(resource_id=joined._resource, team=joined.team, service=joined.service)


def _records(table: ir.Table) -> list[dict[str, Any]]:
    return table.to_pyarrow().to_pylist()


def allocation_report(store: Store, rules: AllocationRules, by: str, start: datetime, end: datetime,
                      basis: str = "effective") -> dict[str, Any]:
    """The period's allocation as the CLI and API show it: `items` (`group`, `cost`, `share` of the currency's
    total, `direct`, `shared`, `currency`; largest first, "(untagged)" and "(unallocated)" last), `total` (the
    one currency's sums; None when several currencies appear, see `totals`), `totals` per currency,
    `coverage` rows (`tag_coverage`), `by`, `basis`, `from`, `to`."""
    daily = allocated_daily(store, rules, by, start, end, basis)
    items = _records(daily.group_by("group", "currency").agg(cost=daily.cost.sum(), direct=daily.direct.sum(),
                                                             shared=daily.shared.sum()))
    totals: dict[str, dict[str, Any]] = {}
    for item in items:
        total = totals.setdefault(item["currency"], {"cost": 0.0, "direct": 0.0, "shared": 0.0,
                                                     "currency": item["currency"], "share": 1.0})
        for k in ("cost", "direct", "shared"):
            total[k] += item[k]
    for item in items:
        cost = totals[item["currency"]]["cost"]
        item["share"] = item["cost"] / cost if cost else None
    items.sort(key=lambda i: (i["currency"], i["group"] in SPECIAL, -i["cost"], i["group"]))
    coverage = sorted(_records(tag_coverage(store, rules, by, start, end, basis)),
                      key=lambda c: (str(c["provider"]), str(c["account"]), c["currency"]))
    empty = {"cost": 0.0, "direct": 0.0, "shared": 0.0, "currency": None, "share": None}
    total = next(iter(totals.values())) if len(totals) == 1 else empty if not totals else None
    return {"by": by, "basis": basis, "from": as_utc(start), "to": as_utc(end),
            "items": [{k: i[k] for k in ("group", "cost", "share", "direct", "shared", "currency")} for i in items],
            "total": total, "totals": [totals[c] for c in sorted(totals)], "coverage": coverage}
