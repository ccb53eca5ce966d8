"""The demo's governance: a review board, an access policy, one individual-level indicator with its impact
assessment and an approval, and the definitions recorded in the archive.

The individual-level indicator (`reviews_given`) counts code reviews per reviewer; it is published only as
team aggregates over at least `privacy.min_group_size` people, on data older than a week, after the board
approved it (alice proposes; bob and carol approve, quorum 2).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from ..catalog.loader import load_catalog
from ..governance.archive import record_definitions
from ..governance.board import approve, propose
from ..store import Store

__all__ = ["BOARD", "record_governance", "write_governance"]

BOARD = """\
# The demo's review board (docs/governance.md): individual-level indicators compute only after it approves.
name: People metrics review board
members: [alice, bob, carol]
quorum: 2
"""

ACCESS = """\
# Who may read which dataset through the API and web pages (docs/governance.md). Reads are audited.
datasets:
  cost: [manager, auditor, metrics-admin]
  feedback: [auditor, metrics-admin]
  people: [manager, auditor, metrics-admin]
reason_required: [feedback]
"""

PEOPLE_METRICS = """\
# Individual-level indicators: computed only with a review-board approval in force, published only as
# team aggregates of at least privacy.min_group_size people, on data at least a week old.
indicators:
  - id: reviews_given
    name: Code reviews given
    description: Reviews submitted by the people of each team per week (bots excluded); a team aggregate of
      individual counts, never shown per person.
    owner: {team: platform, role: engineering manager}
    kind: leading
    unit: reviews/week
    direction: higher_is_better
    cadence: weekly
    calculation:
      dataset: reviews
      time_column: submitted_at
      filters:
        - {column: is_bot, op: eq, value: false}
      group_by: reviewer
      measure: {type: count}
    thresholds:
      red: {max: 20}
      amber: {min: 20, max: 40}
      green: {min: 40}
    outcome: review_latency_p90
    guardrail: review_latency_p90
    audience: individual
    review_by: REVIEW_BY
    tags: [review]
"""

ASSESSMENT = """\
# Impact assessment of `reviews_given` (docs/governance.md).
intended_behaviour_change: >-
  Review work is shared across each team instead of falling on a few people, so changes wait less.
gaming_risks:
  - rubber-stamp approvals to raise the count
  - splitting one review into many comments
groups_harmed:
  - people who review rarely but deeply (security, architecture)
  - part-time people and new joiners
guardrails:
  - review_latency_p90
  - team aggregates of at least five people only; never per person, never ranked
review_date: REVIEW_BY
owner: platform engineering manager
"""


def write_governance(root: Path, *, review_by: date) -> list[Path]:
    """Write the board, the access policy, the individual-level indicator and its assessment."""
    files = {
        root / "policies" / "review_board.yaml": BOARD,
        root / "policies" / "access.yaml": ACCESS,
        root / "metrics" / "people.yaml": PEOPLE_METRICS.replace("REVIEW_BY", review_by.isoformat()),
        root / "assessments" / "reviews_given.yaml": ASSESSMENT.replace("REVIEW_BY", review_by.isoformat()),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)


def record_governance(store: Store, root: Path, start: date) -> None:
    """Record the definitions as in force from the demo's first day, and the board's approval of
    `reviews_given` (proposed on the first day, approved the day after)."""
    first = datetime.combine(start, time(9), tzinfo=UTC)
    record_definitions(store, root, at=first, actor="engmetrics demo")
    catalog = load_catalog(root)
    indicator = catalog.get("reviews_given")
    propose(store, catalog.review_board, indicator, "alice", at=first)
    for member in ("bob", "carol"):
        approve(store, catalog.review_board, indicator, member, "team aggregates only, with the review latency "
                "guardrail beside it", at=first + timedelta(days=1))
