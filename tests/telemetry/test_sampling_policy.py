"""`policies/sampling.yaml`: the template loads; every broken rule is reported with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engmetrics.errors import ValidationFailed
from engmetrics.store.datasets import REGISTRY
from engmetrics.telemetry.sampling import HeadSampling, StratifiedSampling
from engmetrics.telemetry.sampling_estimate import sampled_dataset
from engmetrics.telemetry.sampling_policy import SAMPLING_FILE, load_sampling_policies


def _issues(root: Path, text: str) -> list[tuple[int | None, str]]:
    (root / SAMPLING_FILE).write_text(text)
    with pytest.raises(ValidationFailed) as caught:
        load_sampling_policies(root)
    assert {i.file for i in caught.value.issues} == {SAMPLING_FILE}
    return [(i.line, i.message) for i in caught.value.issues]


def test_the_template_keeps_every_error_and_a_tenth_of_the_rest(workspace):
    policy = load_sampling_policies(workspace).for_dataset("request_events")
    assert isinstance(policy, StratifiedSampling)
    assert (policy.key, policy.column, policy.default) == (["event_id"], "outcome", 0.1)
    assert [(s.value, s.probability) for s in policy.strata] == [("error", 1.0)]


def test_no_file_samples_nothing(tmp_path):
    assert load_sampling_policies(tmp_path).datasets == {}


def test_a_head_policy(workspace):
    (workspace / SAMPLING_FILE).write_text("datasets:\n  request_events: {type: head, key: event_id, "
                                           "probability: 0.25}\n")
    assert load_sampling_policies(workspace).for_dataset("request_events") == HeadSampling(key="event_id",
                                                                                           probability=0.25)


def test_rules_are_checked_against_the_registry(workspace):
    text = """datasets:
  request_events:
    type: stratified
    key: [event_id, span]
    column: outcome
    strata:
      - {value: 500, probability: 1.0}
    default: 0.1
  deployments: {type: head, key: deployment_id, probability: 0.5}
  spans: {type: head, key: id, probability: 0.5}
"""
    assert _issues(workspace, text) == [
        (4, "dataset request_events has no column 'span' (key)"),
        (7, "stratum value 500 does not fit column request_events.outcome (string)"),
        (9, "dataset 'deployments' has no 'weight' column: its rows cannot carry weights"),
        (10, "unknown dataset 'spans'; known: " + ", ".join(REGISTRY)),
    ]


def test_stratum_values_follow_the_catalog_filter_rule(workspace):
    # a timestamp column takes ISO text only (store.registry.value_fits), as a filter on it would
    text = """datasets:
  request_events:
    type: stratified
    key: event_id
    column: ts
    strata:
      - {value: yesterday, probability: 1.0}
      - {value: "2026-03-02T00:00:00+00:00", probability: 0.5}
    default: 0.1
"""
    assert _issues(workspace, text) == [(7, "stratum value 'yesterday' does not fit column request_events.ts "
                                            "(timestamp)")]


def test_model_errors_name_the_line(workspace):
    [(line, message)] = _issues(workspace, "datasets:\n  request_events:\n    type: head\n    key: event_id\n"
                                           "    probability: 0\n")
    assert line == 5 and "greater than 0" in message
    [(line, message)] = _issues(workspace, "datasets:\n  request_events:\n    type: tail\n    key: event_id\n")
    assert line == 3 and "tail" in message
    [(line, _)] = _issues(workspace, "datasets: [\n")
    assert line is not None


def test_only_datasets_with_weights_are_sampled():
    assert sampled_dataset("request_events")
    assert not sampled_dataset("deployments")
    assert not sampled_dataset("nope")
