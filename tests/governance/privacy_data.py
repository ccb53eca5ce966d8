"""A small organisation for the privacy tests: 17 people in three teams and their changes.

Teams (as of 2026-03-31, from the effective-dated `people` rows): payments p1..p6 (6 people), search s1..s4
(4; s4 moved there from payments on 2026-03-01), platform t1..t7 (7).
Changes created in the ISO week 2026-03-23..29 (on Thursday 03-26): p1 two, every other person one ->
payments 7, search 4, platform 7, organisation 18 changes by 17 people. In the week 2026-03-16..22 (on 03-20):
t1..t5 and s1 one each -> platform 5, search 1, organisation 6 by 6 people. Nothing before 03-16 or after
03-26.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PAYMENTS = [f"p{i}" for i in range(1, 7)]
SEARCH = [f"s{i}" for i in range(1, 5)]
PLATFORM = [f"t{i}" for i in range(1, 8)]

PEOPLE = "person,valid_from,valid_to,team\n" + "".join(
    [f"{p},2026-01-01,,payments\n" for p in PAYMENTS]
    + [f"{p},2026-01-01,,search\n" for p in SEARCH[:3]]
    + ["s4,2026-01-01,2026-02-28,payments\n", "s4,2026-03-01,,search\n"]
    + [f"{p},2026-01-01,,platform\n" for p in PLATFORM])

_NOW = ["p1", *PAYMENTS, *SEARCH, *PLATFORM]
_BEFORE = [*PLATFORM[:5], "s1"]
CHANGES = "change_id,repo,author,created_at\n" + "".join(
    [f"c{i},app,{a},2026-03-26T10:00:00Z\n" for i, a in enumerate(_NOW)]
    + [f"b{i},app,{a},2026-03-20T10:00:00Z\n" for i, a in enumerate(_BEFORE)])

INDIVIDUAL: dict[str, Any] = {
    "id": "changes_per_author", "name": "Changes per author", "kind": "leading", "unit": "changes",
    "direction": "higher_is_better", "cadence": "weekly", "audience": "individual",
    "calculation": {"dataset": "changes", "group_by": "author", "measure": {"type": "count"}},
    "thresholds": {"green": {"min": 5}, "red": {"max": 5}},
}
BOARD: dict[str, Any] = {"name": "People metrics board", "members": ["ana", "ben"], "quorum": 1}


def load_people_and_changes(ingest: Any, write: Any) -> None:
    """Ingest PEOPLE and CHANGES with the tests' key."""
    ingest("people", write("people.csv", PEOPLE))
    ingest("changes", write("changes.csv", CHANGES))


def write_people_workspace(root: Path, key: bytes) -> Path:
    """A workspace at `root` with INDIVIDUAL in `metrics/people.yaml`, BOARD as its review board, `key` as its
    pseudonym key and an empty `policies/`."""
    for sub in ("metrics", "policies", ".engmetrics"):
        (root / sub).mkdir(parents=True)
    (root / "metrics" / "people.yaml").write_text(yaml.safe_dump({"indicators": [INDIVIDUAL]}))
    (root / "policies" / "review_board.yaml").write_text(yaml.safe_dump(BOARD))
    (root / ".engmetrics" / "pseudonym.key").write_text(key.hex() + "\n")
    return root
