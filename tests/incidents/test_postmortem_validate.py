"""The postmortem standard: a complete postmortem is clean and scores 1; broken ones give located issues."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engmetrics.errors import InputError
from engmetrics.incidents.postmortem import (
    DEFAULT_FACTORS,
    WEIGHTS,
    load_taxonomy,
    parse_file,
    parse_text,
    render_postmortem,
    score,
    validate,
)

COMPLETE = """---
incident_id: INC-0042
title: "Checkout: payments failing"
service: checkout
team: payments
severity: 2
confidentiality: internal
authors: [payments, sre]
summary: A bad configuration push made 30 % of card payments fail for 45 minutes.
impact:
  users_affected: 1200
  duration_minutes: 45
  slo_budget_consumed: 0.25
timeline:
  impact_started: 2026-03-01T14:00:00+01:00
  detected: 2026-03-01T14:05:00+01:00
  declared: 2026-03-01T14:08:00+01:00
  acknowledged: 2026-03-01T14:10:00+01:00
  mitigated: 2026-03-01T14:45:00+01:00
  resolved: 2026-03-01T16:00:00+01:00
detection_source: alert
contributing_factors: [configuration, monitoring_gap]
trigger: A configuration push set the payment provider timeout to 100 ms.
resolution: The push was rolled back and the stuck payments retried.
action_items:
  - id: AI-01
    description: Validate provider timeouts in CI
    type: prevent
    owner_team: payments
    due: 2026-03-15
    status: done
    completed: 2026-03-10
  - id: AI-02
    description: Alert on payment failure ratio
    type: mitigate
    owner_team: sre
    due: 2026-04-01
    status: open
went_well: [The alert fired within five minutes.]
went_wrong: [The rollback took 30 minutes to find.]
got_lucky: [It happened outside peak hours.]
---

# Checkout: payments failing

## Summary

Narrative.
"""

# Line numbers of the file (the front matter starts on line 2) are written next to the lines that break.
BROKEN = """---
incident_id: INC-0043
title: Search slow
service: search
team: discovery
severity: 7
confidentiality: secret
authors: [discovery]
summary: Search was slow.
impact:
  users_affected: -3
  duration_minutes: 30
timeline:
  impact_started: 2026-03-02T10:00:00Z
  detected: 2026-03-02T09:50:00Z
  acknowledged: 2026-03-02T10:20:00
  mitigated: 2026-03-02T10:30:00Z
  resolved: 2026-03-02T10:25:00Z
detection_source: customer
contributing_factors: [capacity, cosmic_rays]
trigger: A traffic spike.
resolution: Scaled out.
action_items:
  - description: Add autoscaling
    type: prevent
    status: open
  - description: Review capacity
    type: audit
    owner_team: discovery
    due: 2026-04-01
    status: open
went_well: [Scaling out was quick.]
went_wrong: [Customers told us first.]
---

Narrative.
"""


def issues_of(text: str, name: str = "INC-0043.md", factors=DEFAULT_FACTORS):
    doc = parse_text(text, name)
    return doc, validate(doc, factors)


def test_a_complete_postmortem_is_clean_and_scores_one():
    doc, issues = issues_of(COMPLETE, "INC-0042.md")
    assert issues == []
    assert score(doc, issues) == 1.0
    assert sum(WEIGHTS.values()) == 1000


def test_a_broken_postmortem_gives_each_issue_at_its_line():
    doc, issues = issues_of(BROKEN)
    found = [(i.line, i.level, i.rule, i.incident) for i in issues]
    assert [(line, level, rule) for line, level, rule, _ in found] == [
        (2, "WARNING", "missing-field"),  # got_lucky absent: the front matter's first line
        (6, "ERROR", "invalid-value"),  # severity 7
        (7, "ERROR", "invalid-value"),  # confidentiality secret
        (10, "WARNING", "missing-field"),  # impact.slo_budget_consumed absent: its parent `impact:`
        (11, "ERROR", "invalid-value"),  # users_affected -3
        (13, "WARNING", "missing-field"),  # timeline.declared absent: its parent `timeline:`
        (15, "ERROR", "timeline-order"),  # detected 09:50 before impact_started 10:00
        (16, "ERROR", "invalid-timestamp"),  # acknowledged without an offset
        (18, "ERROR", "timeline-order"),  # resolved 10:25 before mitigated 10:30
        (20, "ERROR", "unknown-factor"),  # cosmic_rays
        (24, "ERROR", "action-item"),  # the first item has no owner_team
        (24, "ERROR", "action-item"),  # ... and no due date
        (28, "ERROR", "action-item"),  # type audit
    ]
    assert {incident for *_, incident in found} == {"INC-0043"}
    messages = [i.message for i in issues]
    assert "action item 1 has no owner_team" in messages and "action item 1 has no due" in messages
    assert any("timeline.resolved (2026-03-02T10:25:00+00:00) is before timeline.mitigated" in m for m in messages)
    # earned (per mille): incident_id, title, service 25 each + summary 100 + duration 50 + impact_started and
    # mitigated 40 each + detection_source, trigger, resolution 50 each + went_well, went_wrong 20 each +
    # authors 25 = 520; both action items have issues (0 of 100), the rest is flagged or missing
    assert score(doc, issues) == 0.52


def test_timestamps_out_of_order_skip_missing_ones():
    text = COMPLETE.replace("  acknowledged: 2026-03-01T14:10:00+01:00\n", "").replace(
        "mitigated: 2026-03-01T14:45:00+01:00", "mitigated: 2026-03-01T13:04:00Z")  # 14:04 local, before 14:05
    _, issues = issues_of(text, "INC-0042.md")
    # acknowledged is missing, so mitigated is compared with detected; duration becomes 4 minutes, not 45
    assert [(i.line, i.level, i.rule) for i in issues] == [
        (12, "ERROR", "inconsistent-duration"), (14, "WARNING", "missing-field"), (18, "ERROR", "timeline-order")]
    assert "timeline.mitigated (2026-03-01T13:04:00+00:00) is before timeline.detected" in issues[2].message


def test_offsets_are_compared_as_instants():
    # 13:04Z is 14:04+01:00: after impact_started (14:00+01:00), before detected (14:05+01:00)
    text = COMPLETE.replace("detected: 2026-03-01T14:05:00+01:00", "detected: 2026-03-01T13:04:00Z")
    _, issues = issues_of(text, "INC-0042.md")
    assert issues == []


def test_without_front_matter_or_with_bad_yaml():
    _, issues = issues_of("# Just a title\n")
    assert [(i.line, i.rule) for i in issues] == [(1, "front-matter")]
    _, issues = issues_of("---\ntitle: x\nsummary: a: b\n---\n")  # YAML line 2 is file line 3
    assert [(i.line, i.level, i.rule) for i in issues] == [(3, "ERROR", "front-matter")]
    assert "mapping values are not allowed" in issues[0].message


def test_file_name_should_be_the_incident():
    doc, issues = issues_of(COMPLETE, "checkout-outage.md")
    assert [(i.line, i.level, i.rule) for i in issues] == [(2, "WARNING", "file-name")]
    assert score(doc, issues) == 1.0  # the file's name is no field of the standard


def test_taxonomy_from_the_workspace_policy(tmp_path):
    assert load_taxonomy(tmp_path) == DEFAULT_FACTORS
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "postmortem.yaml").write_text("contributing_factors: [configuration, vendor]\n")
    factors = load_taxonomy(tmp_path)
    assert factors == ("configuration", "vendor")
    _, issues = issues_of(COMPLETE, "INC-0042.md", factors)
    assert [(i.line, i.rule, i.message) for i in issues] == [
        (22, "unknown-factor", "unknown contributing factor 'monitoring_gap'; known: configuration, vendor")]
    (tmp_path / "policies" / "postmortem.yaml").write_text("contributing_factors: change\n")
    with pytest.raises(InputError, match="non-empty list"):
        load_taxonomy(tmp_path)


def test_the_template_prefilled_from_an_incident_parses_and_lists_what_is_missing():
    from datetime import UTC, datetime

    incident = {"incident_id": "INC-7", "title": 'Search: "slow"', "service": "search", "team": "discovery",
                "severity": 2, "impact_started_at": datetime(2026, 3, 2, 10, tzinfo=UTC),
                "detected_at": datetime(2026, 3, 2, 10, 5, tzinfo=UTC),
                "mitigated_at": datetime(2026, 3, 2, 10, 47, 40, tzinfo=UTC),
                "resolved_at": datetime(2026, 3, 2, 11, tzinfo=UTC)}
    doc, issues = issues_of(render_postmortem(incident), "INC-7.md")
    assert doc.get("title") == 'Search: "slow"' and doc.get("severity") == 2
    assert doc.get("impact", "duration_minutes") == 48  # 47 min 40 s, rounded
    assert doc.get("timeline", "detected") == datetime(2026, 3, 2, 10, 5, tzinfo=UTC)
    errors = sorted({i.message for i in issues if i.level == "ERROR"})
    assert errors == sorted(f"{f} is missing" for f in (
        "authors", "summary", "impact.users_affected", "detection_source", "contributing_factors", "trigger",
        "resolution"))


def test_a_file_on_disk_is_read(tmp_path):
    path = tmp_path / "INC-0042.md"
    path.write_text(COMPLETE)
    assert validate(parse_file(path)) == []


_LINE_FIELDS = {  # top-level fields written on one line each in COMPLETE
    "title": 3, "service": 4, "severity": 6, "confidentiality": 7, "authors": 8, "summary": 9,
    "detection_source": 21, "contributing_factors": 22, "trigger": 23, "resolution": 24,
    "went_well": 39, "went_wrong": 40, "got_lucky": 41,
}


@settings(max_examples=40, deadline=None)
@given(st.sets(st.sampled_from(sorted(_LINE_FIELDS))))
def test_removing_fields_costs_exactly_their_weights(removed):
    lines = COMPLETE.splitlines(keepends=True)
    for name in removed:
        assert lines[_LINE_FIELDS[name] - 1].startswith(f"{name}:")
    kept = [line for n, line in enumerate(lines, start=1) if n not in {_LINE_FIELDS[f] for f in removed}]
    doc, issues = issues_of("".join(kept), "INC-0042.md")
    assert {i.rule for i in issues} == ({"missing-field"} if removed else set())
    assert score(doc, issues) == pytest.approx(1 - sum(WEIGHTS[f] for f in removed) / 1000)
