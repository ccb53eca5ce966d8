"""`engmetrics decisions add|list|report`: a round trip on a workspace with the API tests' deployments.

Deployments (status) by day: 03-18 d8 (failure), 03-24 23:59:59 d7, 03-25 d1, 03-26 d2, 03-27 d3 (failure),
03-28 d4, 03-30 d5 (failure), 03-31 23:59:59 d6, 04-01 d9.
A decision dated 2026-03-25 with --after-days 7 compares 03-18..03-24 with 03-25..03-31:
- deploys (count, higher is better): before d8, d7 = 2; after d1..d6 = 6; change +4: better;
- failures (failed count, lower is better): before d8 = 1; after d3, d5 = 2; change +1: worse.
Three decisions, two citing a catalog indicator: share backed 2/3. No deployment is older than 03-18, so the
three 7-day windows before 03-18..03-24 have no value and there is no noise figure (`noise` null): the verdicts
read the sign of the change.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from catalog_helpers import BASE, GUARD, OUTCOMES
from hypothesis import given
from hypothesis import strategies as st

from api.conftest import DEPLOYMENTS, KEY
from engmetrics.ingest import ingest_files
from engmetrics.insights.decisions import _noise
from engmetrics.settings import load_settings
from engmetrics.store import Store


@pytest.fixture
def ws(workspace: Path, tmp_path: Path) -> Path:
    (workspace / "metrics" / "example.yaml").unlink()
    (workspace / "metrics" / "m.yaml").write_text(yaml.safe_dump({"outcomes": OUTCOMES, "indicators": [BASE, GUARD]}))
    data = tmp_path / "deployments.csv"
    data.write_text(DEPLOYMENTS)
    with Store.open(load_settings(workspace).store_url) as store:
        ingest_files(store, "deployments", [data], pseudonym_key=KEY)
    return workspace


def _json(result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_list_report_round_trip(ws, cli):
    first = _json(cli("decisions", "add", "--id", "DEC-1", "--date", "2026-03-25", "--title", "Trunk-based",
                      "--owner-team", "platform", "--metric", "deploys", "--json"))
    assert first["ingest"] == {"dataset": "decisions", "files": ["decision DEC-1 (engmetrics decisions add)"],
                               "read": 1, "inserted": 1, "updated": 0, "unchanged": 0, "quarantined": 0}
    assert first["decision"]["metrics"] == ["deploys"]
    _json(cli("decisions", "add", "--id", "DEC-2", "--date", "2026-03-25", "--title", "Canary stage",
              "--metric", "failures", "--metric", "nps", "--allow-unknown", "--json"))
    _json(cli("decisions", "add", "--id", "DEC-3", "--date", "2026-03-28", "--title", "Gut feeling",
              "--metric", "vibes", "--allow-unknown", "--outcome", "too early to tell", "--json"))
    # the same decision again: read 1 = unchanged 1; a new title: updated 1
    again = _json(cli("decisions", "add", "--id", "DEC-1", "--date", "2026-03-25", "--title", "Trunk-based",
                      "--owner-team", "platform", "--metric", "deploys", "--json"))["ingest"]
    assert (again["read"], again["unchanged"], again["inserted"]) == (1, 1, 0)

    listed = _json(cli("decisions", "list", "--json"))
    assert [d["decision_id"] for d in listed] == ["DEC-1", "DEC-2", "DEC-3"]
    assert listed[2] == {"decision_id": "DEC-3", "date": "2026-03-28", "title": "Gut feeling", "owner_team": None,
                         "metrics": ["vibes"], "outcome": "too early to tell"}
    assert [d["decision_id"] for d in _json(cli("decisions", "list", "--metric", "failures", "--json"))] == ["DEC-2"]
    assert [d["decision_id"] for d in _json(cli("decisions", "list", "--from", "2026-03-26", "--json"))] == ["DEC-3"]

    report = _json(cli("decisions", "report", "--after-days", "7", "--as-of", "2026-03-31", "--json"))
    assert (report["decisions_total"], report["backed"]) == (3, 2)
    assert report["share_backed"] == pytest.approx(2 / 3)
    moves = {(d["decision_id"], m["metric"]): m for d in report["decisions"] for m in d["moves"]}
    assert moves[("DEC-1", "deploys")] == {
        "metric": "deploys", "before": {"start": "2026-03-18", "end": "2026-03-24"},
        "after": {"start": "2026-03-25", "end": "2026-03-31"}, "value_before": 2.0, "value_after": 6.0,
        "change": 4.0, "noise": None, "verdict": "better"}
    failures = moves[("DEC-2", "failures")]
    assert (failures["value_before"], failures["value_after"], failures["change"], failures["verdict"]) == \
        (1.0, 2.0, 1.0, "worse")
    assert moves[("DEC-2", "nps")]["verdict"] == "unknown_indicator"
    assert [d["backed"] for d in report["decisions"]] == [True, True, False]
    assert moves[("DEC-3", "vibes")]["verdict"] == "unknown_indicator"

    printed = cli("decisions", "report", "--after-days", "7", "--as-of", "2026-03-31")
    assert printed.exit_code == 0 and printed.stdout.startswith("2 of 3 decisions backed by data (67%)")


def test_report_period_and_too_early(ws, cli):
    cli("decisions", "add", "--id", "DEC-1", "--date", "2026-03-25", "--title", "T", "--metric", "deploys")
    report = _json(cli("decisions", "report", "--after-days", "7", "--as-of", "2026-03-30", "--json"))
    assert report["decisions"][0]["moves"][0]["verdict"] == "too_early"  # 03-31 is after the as-of date
    assert report["decisions"][0]["moves"][0]["value_after"] is None
    empty = _json(cli("decisions", "report", "--from", "2026-04-01", "--json"))
    assert (empty["decisions_total"], empty["share_backed"], empty["from"]) == (0, None, "2026-04-01")


def test_no_data_and_unchanged(ws, cli):
    # 2026-01-10, 7 days: no deployments at all on either side (the data starts 03-18): no value, no_data
    cli("decisions", "add", "--id", "OLD", "--date", "2026-01-10", "--title", "T", "--metric", "deploys")
    # 2026-03-26, 2 days: 03-24..25 holds d7, d1 = 2; 03-26..27 holds d2, d3 = 2: unchanged
    cli("decisions", "add", "--id", "FLAT", "--date", "2026-03-26", "--title", "T", "--metric", "deploys")
    moves = {d["decision_id"]: d["moves"][0] for d in _json(
        cli("decisions", "report", "--after-days", "2", "--as-of", "2026-03-31", "--json"))["decisions"]}
    assert moves["OLD"]["verdict"] == "no_data" and moves["OLD"]["change"] is None
    assert (moves["FLAT"]["value_before"], moves["FLAT"]["value_after"], moves["FLAT"]["verdict"]) == \
        (2.0, 2.0, "unchanged")


def test_unknown_indicators_and_bad_input_are_refused(ws, cli):
    refused = cli("decisions", "add", "--id", "X", "--date", "2026-03-25", "--title", "T", "--metric", "nps")
    assert refused.exit_code == 1
    assert "no indicator 'nps' in the catalog (known: deploys, failures); pass --allow-unknown" in refused.output
    assert cli("decisions", "add", "--id", "X", "--date", "25/03/2026", "--title", "T",
               "--metric", "deploys").exit_code == 2
    assert cli("decisions", "add", "--id", "X", "--date", "2026-03-25", "--title", "T").exit_code == 2  # no metric
    assert cli("decisions", "add", "--id", " ", "--date", "2026-03-25", "--title", "T",
               "--metric", "deploys").exit_code == 1
    assert cli("decisions", "report", "--after-days", "0").exit_code == 2
    assert _json(cli("decisions", "list", "--json")) == []


# Earlier deployments: e0 falls a second before 02-25, the first of the three windows before 03-18..03-24.
EARLIER = """deployment_id,service,environment,started_at,status
e0,pay,production,2026-02-24T23:59:59Z,success
e1,pay,production,2026-02-25T00:00:00Z,success
e2,pay,production,2026-02-28T10:00:00Z,failure
e3,pay,production,2026-03-03T23:59:59Z,success
e4,pay,production,2026-03-04T00:00:00Z,failure
e5,pay,production,2026-03-05T10:00:00Z,success
e6,pay,production,2026-03-06T10:00:00Z,success
e7,pay,production,2026-03-07T10:00:00Z,success
e8,pay,production,2026-03-08T10:00:00Z,success
e9,pay,production,2026-03-09T10:00:00Z,success
e10,pay,production,2026-03-11T10:00:00Z,failure
e11,pay,production,2026-03-17T23:59:59Z,success
"""


def test_a_move_within_the_noise_before_the_decision_is_unchanged(ws, cli, tmp_path):
    data = tmp_path / "earlier.csv"
    data.write_text(EARLIER)
    with Store.open(load_settings(ws).store_url) as store:
        ingest_files(store, "deployments", [data], pseudonym_key=KEY)
    cli("decisions", "add", "--id", "DEC-1", "--date", "2026-03-25", "--title", "T", "--metric", "deploys",
        "--metric", "failures")
    moves = {m["metric"]: m for m in _json(cli("decisions", "report", "--after-days", "7", "--as-of", "2026-03-31",
                                               "--json"))["decisions"][0]["moves"]}
    # 7-day windows before the decision: 02-25..03-03 (e1, e2, e3), 03-04..03-10 (e4..e9), 03-11..03-17 (e10, e11),
    # 03-18..03-24 (d8, d7).
    # deploys: 3, 6, 2, 2 -> consecutive moves |3|, |-4|, |0| -> noise 4; after 6 - before 2 = +4 <= 4: unchanged
    assert (moves["deploys"]["value_before"], moves["deploys"]["value_after"], moves["deploys"]["change"],
            moves["deploys"]["noise"], moves["deploys"]["verdict"]) == (2.0, 6.0, 4.0, 4.0, "unchanged")
    # failures: 1 (e2), 1 (e4), 1 (e10), 1 (d8) -> noise 0; after d3, d5 = 2: +1 > 0, lower is better: worse
    assert (moves["failures"]["change"], moves["failures"]["noise"], moves["failures"]["verdict"]) == \
        (1.0, 0.0, "worse")


@given(st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=3, max_size=8), st.floats(-1e3, 1e3))
def test_noise_is_the_largest_step_and_ignores_the_level(values, shift):
    seen = [v for v in values if v is not None]
    noise = _noise(values)
    if len(seen) < 3:
        assert noise is None
        return
    # at least every consecutive step, and equal to one of them
    steps = [abs(b - a) for a, b in pairwise(seen)]
    assert all(noise >= step for step in steps) and noise in steps
    shifted = _noise([None if v is None else v + shift for v in values])
    assert shifted == pytest.approx(noise, abs=1e-6)
