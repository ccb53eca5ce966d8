"""The cycle-time leg of benchmarks/delivery.py: `cycle_time_stats(..., by="team")` against a hand-written DuckDB
query and a pandas version of the same numbers (the data and the comparison are described in delivery.py).

Both baselines implement `engmetrics.delivery.cycle_time` and `working_time` as documented, restricted to what
the generated data needs: every deployment lists its changes (only the `change_ids` link rule), and every working
day starts and ends outside DST changes (no working interval is empty).

- SQL (one query): first reviews with `min` of a struct (time, reviewer), deploys with `unnest` and `arg_min`,
  memberships per (person, UTC day) with `arg_max`, work days parsed from `teams.work_days` in SQL, working
  intervals per local date with `timezone(zone, date + time)`, then per calendar and UTC day the working seconds
  before midnight (a running `sum` window) and the day's interval parts (a list); the working time of [s, e) is
  W(e) - W(s), each W one equi-join on (calendar, day number) and a `list_transform` over the day's parts.
  `quantile_cont` (linear interpolation, as numpy's default) per team and stage.
- pandas: the same steps with `merge`, `sort_values` + `drop_duplicates`, `explode`, intervals from
  `date_range` + `tz_localize`, W by `merge_asof` on each calendar's running totals (its intervals are disjoint:
  working days are shorter than 24 h), and `quantile`.
"""

from __future__ import annotations

import re
import warnings
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import numpy as np
import pandas as pd

from engmetrics.delivery.cycle_time import STAGES, cycle_time_stats
from engmetrics.settings import DeliverySettings
from engmetrics.store import Store

MIN_GROUP = 5  # cycle_time_stats' default min_group_size
STATS = ("wall_p50", "wall_p90", "working_p50", "working_p90")
FIELDS_EXACT = ("suppressed", "n", *(f"{s}_n" for s in STAGES))
FIELDS_FLOAT = ("pr_size_p50", *(f"{s}_{k}" for s in STAGES for k in STATS))
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY = 86400


def _suppressed() -> dict[str, Any]:
    return {"suppressed": True} | {f: None for f in FIELDS_EXACT[1:] + FIELDS_FLOAT}


# ---------------------------------------------------------------- engmetrics

def run_engmetrics(store: Store, start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    out = {}
    for g in cycle_time_stats(store, DeliverySettings(), by="team", start=start, end=end):
        if g.suppressed:
            out[g.group] = _suppressed()
            continue
        row: dict[str, Any] = {"suppressed": False, "n": g.n, "pr_size_p50": g.pr_size_p50}
        for s, v in g.stages.items():
            row |= {f"{s}_n": v.n, f"{s}_wall_p50": v.wall_p50, f"{s}_wall_p90": v.wall_p90,
                    f"{s}_working_p50": v.working_p50, f"{s}_working_p90": v.working_p90}
        out[g.group] = row
    return out


# ---------------------------------------------------------------- hand-written DuckDB SQL

def _not_bot(column: str) -> str:
    """The bot globs of the default settings as ILIKE patterns (none of them contains % or _)."""
    likes = " OR ".join(f"{column} ILIKE '{g.replace('*', '%').replace('?', '_')}'" for g in DeliverySettings().bots)
    return f"NOT ({likes})"


def sql_cycle(start: datetime, end: datetime) -> str:
    settings = DeliverySettings()
    ws, we = (f"TIME '{h:02d}:00'" for h in settings.work_hours)
    prod = ", ".join(f"'{e}'" for e in settings.production_environments)
    return f"""
    WITH c AS (SELECT change_id, author, created_at, merged_at, first_review_at AS recorded_review,
                      coalesce(ready_at, created_at) AS ready, coalesce(first_commit_at, created_at) AS first_at,
                      coalesce(additions, 0) + coalesce(deletions, 0) AS pr_size
               FROM changes
               WHERE NOT coalesce(is_bot, false) AND {_not_bot('author')} AND merged_at IS NOT NULL
                 AND merged_at >= TIMESTAMPTZ '{start.isoformat()}' AND merged_at < TIMESTAMPTZ '{end.isoformat()}'),
    firsts AS (SELECT c.change_id, min({{'at': r.submitted_at, 'who': r.reviewer}}) AS f
               FROM c JOIN reviews r
                      ON r.change_id = c.change_id AND r.reviewer <> c.author AND r.submitted_at >= c.ready
               WHERE {_not_bot('r.reviewer')} GROUP BY c.change_id),
    reviewed AS (SELECT DISTINCT change_id FROM reviews),
    deployed AS (SELECT change_id, arg_min(coalesce(finished_at, started_at), (started_at, deployment_id)) AS at
                 FROM (SELECT unnest(change_ids) AS change_id, deployment_id, started_at, finished_at FROM deployments
                       WHERE environment IN ({prod}) AND status = 'success')
                 GROUP BY change_id),
    x AS (SELECT c.change_id, c.author, c.pr_size, firsts.f.who AS reviewer, epoch(c.first_at) AS first_s,
                 epoch(c.ready) AS ready_s, epoch(CASE WHEN firsts.f IS NOT NULL THEN firsts.f.at
                                                       WHEN reviewed.change_id IS NULL THEN c.recorded_review END)
                 AS review_s, epoch(c.merged_at) AS merged_s, epoch(deployed.at) AS deployed_s,
                 epoch(c.created_at) AS created_s
          FROM c LEFT JOIN firsts USING (change_id) LEFT JOIN reviewed USING (change_id)
                 LEFT JOIN deployed USING (change_id)),
    spans AS (SELECT change_id, 'coding' AS stage, author AS person, first_s AS s, ready_s AS e FROM x
              UNION ALL SELECT change_id, 'pickup', coalesce(reviewer, author), ready_s, review_s FROM x
              UNION ALL SELECT change_id, 'review', author, review_s, merged_s FROM x
              UNION ALL SELECT change_id, 'deploy', author, merged_s, deployed_s FROM x),
    valid AS (SELECT *, floor(s / {DAY})::BIGINT AS day FROM spans WHERE e >= s),
    asked AS (SELECT DISTINCT person, day FROM valid
              UNION SELECT author, floor(created_s / {DAY})::BIGINT FROM x),
    known AS (SELECT name FROM pg_timezone_names()),
    member AS (SELECT a.person, a.day, arg_max({{'team': p.team, 'zone': p.timezone}}, p.valid_from) AS m
               FROM asked a JOIN people p ON p.person = a.person AND p.valid_from - DATE '1970-01-01' <= a.day
                                         AND (p.valid_to IS NULL OR p.valid_to - DATE '1970-01-01' >= a.day)
               GROUP BY a.person, a.day),
    calendar AS (SELECT person, day, m.team AS team,
                        coalesce(CASE WHEN m.zone IN (SELECT name FROM known) THEN m.zone END,
                                 CASE WHEN t.timezone IN (SELECT name FROM known) THEN t.timezone END, 'UTC') AS zone
                 FROM member LEFT JOIN teams t ON t.team = member.m.team),
    cal_spans AS (SELECT v.change_id, v.stage, v.s, v.e, coalesce(k.zone, 'UTC') AS zone, coalesce(k.team, '') AS team
                  FROM valid v LEFT JOIN calendar k USING (person, day)),
    cals AS (SELECT DISTINCT zone, team FROM cal_spans),
    bounds AS (SELECT floor(min(s) / {DAY})::BIGINT AS lo, floor(max(e) / {DAY})::BIGINT AS hi FROM cal_spans),
    parts AS (SELECT k.zone, k.team, coalesce(t.work_start, {ws}) AS ws, coalesce(t.work_end, {we}) AS we,
                     t.holiday_calendar,
                     unnest(string_split(lower(replace(coalesce(nullif(trim(t.work_days), ''), '{settings.work_days}'),
                                                       ' ', '')), ',')) AS part
              FROM cals k LEFT JOIN teams t USING (team)),
    weekdays AS (SELECT zone, team, ws, we, holiday_calendar, (a + i) % 7 AS weekday
                 FROM (SELECT *, list_position({list(WEEKDAYS)}, split_part(part, '-', 1)[1:3]) - 1 AS a,
                              list_position({list(WEEKDAYS)},
                                            coalesce(nullif(split_part(part, '-', 2), ''), part)[1:3]) - 1 AS b
                       FROM parts), range(7) AS r(i)
                 WHERE i <= (b - a + 7) % 7),
    local_days AS (SELECT DATE '1970-01-01' + d::INTEGER AS day FROM bounds, range(lo - 1, hi + 2) AS r(d)),
    intervals AS (SELECT DISTINCT w.zone, w.team, epoch(timezone(w.zone, d.day + w.ws)) AS w_from,
                         epoch(timezone(w.zone, d.day + w.we)) AS w_to
                  FROM weekdays w JOIN local_days d ON isodow(d.day) - 1 = w.weekday
                  ANTI JOIN holidays h ON h.calendar = w.holiday_calendar AND h.date = d.day),
    pieces AS (SELECT zone, team, d AS day, greatest(w_from, d * {DAY}) AS p_from,
                      least(w_to, (d + 1) * {DAY}) AS p_to
               FROM intervals, range(floor(w_from / {DAY})::BIGINT, ceil(w_to / {DAY})::BIGINT) AS r(d)),
    daily AS (SELECT zone, team, day, sum(p_to - p_from) AS worked, list({{'f': p_from, 't': p_to}}) AS parts
              FROM pieces GROUP BY zone, team, day),
    day_table AS (SELECT g.zone, g.team, g.day, coalesce(d.parts, []) AS parts,
                         coalesce(sum(d.worked) OVER (PARTITION BY g.zone, g.team ORDER BY g.day
                                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
                  FROM (SELECT zone, team, d AS day FROM cals, bounds, range(lo, hi + 1) AS r(d)) g
                  LEFT JOIN daily d USING (zone, team, day)),
    hours AS (SELECT x.change_id, x.stage, (x.e - x.s) / 3600.0 AS wall,
                     (b.before + coalesce(list_sum(list_transform(b.parts, p -> greatest(least(x.e, p.t) - p.f, 0))), 0)
                      - a.before - coalesce(list_sum(list_transform(a.parts, p -> greatest(least(x.s, p.t) - p.f, 0))),
                                            0)) / 3600.0 AS working
              FROM cal_spans x
              JOIN day_table a ON a.zone = x.zone AND a.team = x.team AND a.day = floor(x.s / {DAY})::BIGINT
              JOIN day_table b ON b.zone = x.zone AND b.team = x.team AND b.day = floor(x.e / {DAY})::BIGINT),
    grouped AS (SELECT x.change_id, x.author, x.pr_size, coalesce(nullif(k.team, ''), 'unknown') AS team
                FROM x LEFT JOIN calendar k ON k.person = x.author AND k.day = floor(x.created_s / {DAY})::BIGINT),
    per_team AS (SELECT team, count(*) AS n, count(DISTINCT author) AS authors,
                        quantile_cont(pr_size, 0.5) AS pr_size_p50 FROM grouped GROUP BY team),
    per_stage AS (SELECT g.team, h.stage, count(*) AS n, quantile_cont(h.wall, [0.5, 0.9]) AS wall,
                         quantile_cont(h.working, [0.5, 0.9]) AS working
                  FROM hours h JOIN grouped g USING (change_id) GROUP BY g.team, h.stage)
    SELECT t.team, t.n, t.authors, t.pr_size_p50, s.stage, s.n AS stage_n, s.wall, s.working
    FROM per_team t LEFT JOIN per_stage s USING (team)"""


def run_sql(store: Store, start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for team, n, authors, size, stage, stage_n, wall, working in store.sql.execute(sql_cycle(start, end)).fetchall():
        if authors < MIN_GROUP:
            out[team] = _suppressed()
            continue
        row = out.setdefault(team, {"suppressed": False, "n": n, "pr_size_p50": size}
                             | {f"{s}_n": 0 for s in STAGES} | {f"{s}_{k}": None for s in STAGES for k in STATS})
        if stage is not None:
            row |= {f"{stage}_n": stage_n, f"{stage}_wall_p50": wall[0], f"{stage}_wall_p90": wall[1],
                    f"{stage}_working_p50": working[0], f"{stage}_working_p90": working[1]}
    return out


# ---------------------------------------------------------------- pandas

def load_frames(store: Store) -> dict[str, pd.DataFrame]:
    """The rows the pandas leg needs, read from the store (timed once, on its own)."""
    queries = {
        "changes": "SELECT change_id, author, first_commit_at, created_at, ready_at, first_review_at, merged_at, "
                   "additions, deletions, is_bot FROM changes",
        "reviews": "SELECT change_id, reviewer, submitted_at FROM reviews",
        "deployments": "SELECT deployment_id, environment, status, started_at, finished_at, change_ids "
                       "FROM deployments",
        "people": "SELECT person, valid_from, valid_to, team, timezone FROM people",
        "teams": "SELECT team, timezone, work_start, work_end, work_days, holiday_calendar FROM teams",
        "holidays": "SELECT calendar, date FROM holidays"}
    with warnings.catch_warnings():  # DuckDB's .df() uses an argument pandas 3 deprecates
        warnings.simplefilter("ignore")
        return {name: store.sql.execute(q).df() for name, q in queries.items()}


def _bot_mask(names: pd.Series) -> pd.Series:
    pattern = "|".join("^" + ".*".join(".".join(re.escape(q) for q in p.split("?")) for p in g.split("*")) + "$"
                       for g in DeliverySettings().bots)
    return names.str.contains(pattern, case=False, regex=True).fillna(False).astype(bool)


def _weekdays(spec: str | None) -> set[int]:
    out: set[int] = set()
    for part in (spec or "").lower().replace(" ", "").split(",") if spec and spec.strip() else ["mon-fri"]:
        first, _, last = part.partition("-")
        a, b = WEEKDAYS.index(first[:3]), WEEKDAYS.index((last or first)[:3])
        out.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return out


def _intervals(frames: dict[str, pd.DataFrame], cals: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    """(zone, team, w_from, len, before) in epoch seconds: each calendar's working intervals and running total."""
    settings = DeliverySettings()
    teams = frames["teams"].set_index("team")
    holidays = frames["holidays"].groupby("calendar")["date"].agg(lambda d: set(pd.to_datetime(d).dt.date))
    days = pd.date_range(first, last, freq="D")
    parts = []
    for zone, team in cals.itertuples(index=False):
        t = teams.loc[team] if team in teams.index else None
        ws = t.work_start if t is not None and pd.notna(t.work_start) else None
        we = t.work_end if t is not None and pd.notna(t.work_end) else None
        ws = ws or datetime.min.time().replace(hour=settings.work_hours[0])
        we = we or datetime.min.time().replace(hour=settings.work_hours[1])
        spec = t.work_days if t is not None and isinstance(t.work_days, str) else settings.work_days
        off = holidays.get(t.holiday_calendar, set()) if t is not None else set()
        keep = days[days.weekday.isin(list(_weekdays(spec))) & ~days.isin(pd.to_datetime(sorted(off)))]
        tz = ZoneInfo(zone)
        start = (keep + pd.Timedelta(hours=ws.hour, minutes=ws.minute, seconds=ws.second)).tz_localize(tz)
        stop = (keep + pd.Timedelta(hours=we.hour, minutes=we.minute, seconds=we.second)).tz_localize(tz)
        w_from = start.tz_convert("UTC").as_unit("s").asi8
        length = stop.tz_convert("UTC").as_unit("s").asi8 - w_from
        parts.append(pd.DataFrame({"zone": zone, "team": team, "w_from": w_from, "len": length,
                                   "before": np.cumsum(length) - length}))
    return pd.concat(parts, ignore_index=True)


def _worked(at: pd.DataFrame, column: str, prefix: pd.DataFrame) -> pd.Series:
    """W(at[column]): working seconds of the calendar (zone, team) up to the instant (epoch seconds)."""
    order = at[[column, "zone", "team"]].rename(columns={column: "t"}).sort_values("t")
    m = pd.merge_asof(order, prefix.sort_values("w_from"), left_on="t", right_on="w_from", by=["zone", "team"])
    w = (m.before + np.minimum(m.t - m.w_from, m.len)).fillna(0).to_numpy()
    return pd.Series(w, index=order.index).reindex(at.index)


def _epoch(s: pd.Series) -> pd.Series:
    """Whole epoch seconds (the generated instants have no fraction); NaN where missing."""
    return (s - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)


def run_pandas(frames: dict[str, pd.DataFrame], start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    settings = DeliverySettings()
    c = frames["changes"]
    c = c[~c.is_bot.fillna(False).astype(bool) & ~_bot_mask(c.author) & c.merged_at.notna()
          & (c.merged_at >= pd.Timestamp(start)) & (c.merged_at < pd.Timestamp(end))].copy()
    c["ready"] = c.ready_at.fillna(c.created_at)
    r = frames["reviews"]
    r = r[~_bot_mask(r.reviewer)].merge(c[["change_id", "author", "ready"]], on="change_id")
    r = r[(r.reviewer != r.author) & (r.submitted_at >= r.ready)].sort_values(["submitted_at", "reviewer"])
    firsts = r.drop_duplicates("change_id").set_index("change_id")
    d = frames["deployments"]
    d = d[d.environment.isin(settings.production_environments) & (d.status == "success")]
    d = d.assign(deployed=d.finished_at.fillna(d.started_at)).explode("change_ids")
    deployed = d.sort_values(["started_at", "deployment_id"]).drop_duplicates("change_ids").set_index("change_ids")
    deployed = deployed.deployed
    x = c.set_index("change_id")
    unreviewed = ~x.index.isin(frames["reviews"].change_id)
    recorded = x.first_review_at.where(unreviewed)  # changes.first_review_at counts only without any review row
    x["review_at"] = firsts.submitted_at.reindex(x.index).where(lambda v: v.notna(), recorded)
    x["reviewer"] = firsts.reviewer.reindex(x.index)
    x["deployed_at"] = deployed.reindex(x.index)
    bounds = {"coding": (x.first_commit_at.fillna(x.created_at), x.ready, x.author),
              "pickup": (x.ready, x.review_at, x.reviewer.fillna(x.author)),
              "review": (x.review_at, x.merged_at, x.author), "deploy": (x.merged_at, x.deployed_at, x.author)}
    spans = pd.concat([pd.DataFrame({"change_id": x.index, "stage": s, "person": who.to_numpy(), "s": a.to_numpy(),
                                     "e": b.to_numpy()}) for s, (a, b, who) in bounds.items()], ignore_index=True)
    spans = spans[spans.e >= spans.s].copy()
    spans["s_sec"], spans["e_sec"] = _epoch(spans.s), _epoch(spans.e)
    spans["day"] = spans.s_sec // 86400

    known = available_timezones()
    p = frames["people"].copy()
    p["timezone"] = p.timezone.where(p.timezone.isin(known))
    for column, day in (("valid_from", "first"), ("valid_to", "last")):
        p[day] = _epoch(pd.to_datetime(p[column]).dt.tz_localize("UTC")) // 86400
    zones = frames["teams"].set_index("team").timezone
    zones = zones.where(zones.isin(known))
    homes = pd.DataFrame({"person": x.author.to_numpy(), "day": (_epoch(x.created_at) // 86400).to_numpy()})
    asked = pd.concat([spans[["person", "day"]], homes]).drop_duplicates()
    m = asked.merge(p, on="person")
    m = m[(m["first"] <= m.day) & (m["last"].isna() | (m["last"] >= m.day))]
    m = m.sort_values("valid_from", ascending=False).drop_duplicates(["person", "day"])
    m["zone"] = m.timezone.fillna(m.team.map(zones)).fillna("UTC")
    calendar = m[["person", "day", "zone", "team"]]

    spans = spans.merge(calendar, on=["person", "day"], how="left")
    spans["zone"] = spans.zone.fillna("UTC")
    spans["team"] = spans.team.fillna("")
    cals = spans[["zone", "team"]].drop_duplicates()
    low, high = spans.s.min().tz_convert("UTC").date(), spans.e.max().tz_convert("UTC").date()
    prefix = _intervals(frames, cals, low - timedelta(days=1), high + timedelta(days=1))
    spans["wall"] = (spans.e_sec - spans.s_sec) / 3600.0
    spans["working"] = (_worked(spans, "e_sec", prefix) - _worked(spans, "s_sec", prefix)) / 3600.0

    g = pd.DataFrame({"change_id": x.index, "author": x.author.to_numpy(), "pr_size": (
        x.additions.fillna(0) + x.deletions.fillna(0)).to_numpy(float), "day": homes.day.to_numpy()})
    g = g.merge(calendar.rename(columns={"person": "author"}), on=["author", "day"], how="left")
    g["team"] = g.team.fillna("").replace("", "unknown")
    out: dict[str, dict[str, Any]] = {}
    hours = spans[["change_id", "stage", "wall", "working"]].merge(g[["change_id", "team"]], on="change_id")
    by_stage = dict(iter(hours.groupby(["team", "stage"])))
    for team, rows in g.groupby("team"):
        if rows.author.nunique() < MIN_GROUP:
            out[team] = _suppressed()
            continue
        row: dict[str, Any] = {"suppressed": False, "n": len(rows), "pr_size_p50": rows.pr_size.quantile(0.5)}
        for s in STAGES:
            h = by_stage.get((team, s))
            n = 0 if h is None else len(h)
            row[f"{s}_n"] = n
            for kind in ("wall", "working"):
                for q in (0.5, 0.9):
                    row[f"{s}_{kind}_p{round(q * 100)}"] = float(h[kind].quantile(q)) if n else None
        out[team] = row
    return out
