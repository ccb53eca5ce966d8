"""Property: every row read is inserted, updated, unchanged or quarantined, and the table ends up as a
simple Python model of upsert-by-key (later row wins) says."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engmetrics.ingest import ingest_files
from engmetrics.store import Store

# services: key `service`; `team` required; `tier` an int in 0..4 (empty = null is fine).
SERVICES = ["a", "b", "c", "d"]
TEAMS = ["red", "blue", ""]            # "" is a missing required value
TIERS = ["", "0", "1", "4", "5", "-1", "x", "2.5"]  # 5, -1, x, 2.5 are invalid

row = st.tuples(st.sampled_from(SERVICES), st.sampled_from(TEAMS), st.sampled_from(TIERS))
file_rows = st.lists(row, max_size=8)
# A call is one or more files; a later call may re-ingest the very same files (index into earlier ones).
call = st.lists(file_rows, min_size=1, max_size=3)
plan = st.lists(st.one_of(call, st.integers(min_value=0, max_value=5)), min_size=1, max_size=5)


def valid(team: str, tier: str) -> bool:
    return team != "" and (tier == "" or tier in {"0", "1", "4"})


def model_ingest(table: dict, files: list[list[tuple[str, str, str]]]) -> dict[str, int]:
    """Expected counts of one call; updates `table` (service -> (team, tier)) in place."""
    counts = dict.fromkeys(("read", "inserted", "updated", "unchanged", "quarantined"), 0)
    seen: dict[str, tuple] = {}  # value of the previous valid row of each key within this call
    for rows in files:
        for service, team, tier in rows:
            counts["read"] += 1
            if not valid(team, tier):
                counts["quarantined"] += 1
                continue
            value = (team, int(tier) if tier else None)
            previous = seen[service] if service in seen else table.get(service, "absent")
            if previous == "absent":
                counts["inserted"] += 1
            elif previous == value:
                counts["unchanged"] += 1
            else:
                counts["updated"] += 1
            seen[service] = value
    table.update(seen)
    return counts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan)
def test_counts_add_up_and_table_matches_model(steps):
    with tempfile.TemporaryDirectory() as tmp, Store.open("duckdb://") as store:
        calls: list[list[Path]] = []
        contents: dict[Path, list] = {}
        model: dict[str, tuple] = {}
        for step in steps:
            if isinstance(step, int):
                if not calls:
                    continue
                paths = calls[step % len(calls)]  # re-ingest an earlier call's files
            else:
                paths = []
                for rows in step:
                    path = Path(tmp) / f"f{len(contents)}.csv"
                    path.write_text("service,team,tier\n" + "".join(f"{s},{t},{r}\n" for s, t, r in rows))
                    contents[path] = rows
                    paths.append(path)
                calls.append(paths)
            expected = model_ingest(model, [contents[p] for p in paths])
            summary = ingest_files(store, "services", paths).as_dict()
            assert set(summary) == {"dataset", "files", "read", "inserted", "updated", "unchanged", "quarantined"}
            assert summary["read"] == (summary["inserted"] + summary["updated"] + summary["unchanged"]
                                       + summary["quarantined"])
            assert {k: summary[k] for k in expected} == expected
            table = store.sql.execute("SELECT service, team, tier FROM services").fetchall()
            assert {s: (t, r) for s, t, r in table} == model
            assert len(table) == len(model)
