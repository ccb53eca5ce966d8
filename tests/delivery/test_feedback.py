"""Peer feedback with care: calibration within rater, suppression below the group size, no per-person output."""

from __future__ import annotations

import json
from datetime import date

import pytest

from engmetrics.delivery.feedback import CAVEAT, calibrated_feedback, feedback_report

RATEES_A = ["p1", "p2", "p3", "p4", "p5"]


def populate(store) -> None:
    people = [(p, "a") for p in RATEES_A] + [("q1", "b"), ("q2", "b")]
    store.sql.executemany("INSERT INTO people (person, valid_from, team) VALUES (?, DATE '2025-01-01', ?)", people)
    rows = [("L", p, s) for p, s in zip(RATEES_A, [5, 5, 5, 5, 3], strict=True)]  # lenient: mean 4.6, sd 0.8
    rows += [("S", "q1", 3), ("S", "q2", 2)]  # strict: mean 2.5, sd 0.5
    rows += [("N", "p1", 4), ("N", "p2", 4)]  # no spread: excluded
    store.sql.executemany("INSERT INTO feedback (rater, ratee, period, dimension, score) "
                          "VALUES (?, ?, '2026-Q1', 'craft', ?)", rows)


def test_calibration_within_rater(store):
    store.sql.executemany("INSERT INTO feedback (rater, ratee, period, dimension, score) VALUES (?,?,'Q','d',?)",
                          [("L", "x", 5), ("L", "y", 4), ("S", "x", 3), ("S", "y", 2)])
    z = {(r["rater"], r["ratee"]): r["z"] for r in calibrated_feedback(store).to_pyarrow().to_pylist()}
    # L: mean 4.5, sd 0.5 -> 5 is +1, 4 is -1; S: mean 2.5, sd 0.5 -> 3 is +1, 2 is -1: same standing
    assert (z["L", "x"], z["L", "y"], z["S", "x"], z["S", "y"]) == (1.0, -1.0, 1.0, -1.0)


def test_team_aggregate_and_suppression(store):
    populate(store)
    report = feedback_report(store, min_group_size=5, as_of=date(2026, 6, 1), delivery={"a": {"deploys": 7}})
    assert report.caveat == CAVEAT and report.excluded == 2  # N's two 4s
    a, b = report.groups
    # a: 5 ratees; L's z: (5 - 4.6) / 0.8 = 0.5 four times, (3 - 4.6) / 0.8 = -2 -> mean 0; raw mean 4.6
    assert (a.team, a.ratees, a.ratings, a.suppressed, a.delivery) == ("a", 5, 5, False, {"deploys": 7})
    assert (a.mean_z, a.mean_score) == (pytest.approx(0.0), pytest.approx(4.6))
    # b: 2 ratees < 5 -> suppressed, nothing shown
    assert (b.team, b.suppressed, b.ratees, b.ratings, b.mean_z, b.mean_score) == ("b", True, None, None, None, None)


def test_feedback_command_names_nobody(workspace, workspace_store, cli):
    populate(workspace_store)
    workspace_store.close()
    result = cli("delivery", "feedback", "--as-of", "2026-06-01", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["caveat"] == CAVEAT and [g["suppressed"] for g in data["groups"]] == [False, True]
    assert not any(p in result.output for p in ("p1", "q1", '"L"', '"S"'))
