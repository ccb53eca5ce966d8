"""Privacy guardrails for individual-level indicators (issue 8; DESIGN.md principle 4).

An indicator is *individual-level* when it needs review-board approval (`governance.board.needs_approval`:
`audience: individual`, a non-empty `affects`, or a declarative calculation grouped by, or filtered on, a
person column). `catalog.evaluate` applies these rules to it, in this order:

1. **Grain**: only weekly or coarser cadences; a `daily` one gives status `refused_grain`. The periods are
   *calendar* periods, whatever as-of date is asked for: the as-of date is moved back to the end of the
   last complete ISO week (a Sunday), calendar month or calendar quarter (`calendar_end`). Trailing windows
   ending on any day would let a reader difference the windows of consecutive days into daily values.
2. **Approval**: it computes only while a review-board approval of its current definition version is in
   force; otherwise status `not_approved` (value None, sample size 0).
3. **Delay**: only data older than `privacy.individual_delay_days` (default 7). The as-of date is clamped
   to `today - delay` (`delayed_as_of`) before it is moved to a calendar period's end (`published_as_of`):
   the periods evaluated are the latest complete calendar periods that end on or before that day. The
   results' `period_start` / `period_end` say which period it was; nothing is refused as too recent.
4. **Aggregation**: per-person values are never published. The calculation is computed per *team* (each
   person's team through the effective-dated `people` dataset: the latest membership started on or before
   the period's end, `delivery.silos.person_teams`; people without one form the team `(null)`) and for the
   organisation (group None), each with its number of distinct people (`people`, see `person_column`).
   A `group_by` of the definition is replaced by the team. `suppress` hides every cell about fewer than
   `privacy.min_group_size` people, with complementary suppression (below).

A dataset without a person column has no individuals to hide: such an indicator (say, one that `affects`
promotion but counts deployments) is computed as usual after steps 1-3. A built-in calculator returns one
organisation-level value (calculators apply their own group-size rules); steps 1-3 apply to it too.

Complementary suppression: the values are treated as additive (the safe assumption: for a count or a sum,
the organisation total minus the published teams is the sum of the hidden ones). So when the total is
published, the hidden teams must together cover at least `min_group_size` people: the published team with
the fewest people (then by name) is hidden too until they do; if they still cannot, the total is hidden.
A cell *has rows* when it has a value, a sample size or people. A cell with rows but no value (fewer rows
than `min_sample`, a zero denominator) is still inside the total, so it follows the same rule: about fewer
than `min_group_size` people, it is hidden (and then covers its people), and its sample size and people are
never published. Only a cell without any rows is left as plain no data. The same rules apply to the
previous period's cells. The guarantee is per published table: differencing across periods or across
indicators is not prevented (the fixed calendar grid of step 1 keeps periods from overlapping).

>>> cells = [Cell("a", 10.0, 6), Cell("b", 3.0, 4), Cell("c", 12.0, 7), Cell(None, 25.0, 17)]
>>> [(c.group, c.value, c.suppressed) for c in suppress(cells, 5)]
[('a', None, True), ('b', None, True), ('c', 12.0, False), (None, 25.0, False)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from ..catalog.compute import NULL_GROUP, GroupValue, aggregate, empty_value, finish, population
from ..catalog.model import Calculation
from ..catalog.periods import Period
from ..delivery.identity import canonical
from ..delivery.silos import person_teams
from ..errors import InputError
from ..ingest.pseudonym import pseudonym
from ..settings import PrivacySettings
from ..store.datasets import REGISTRY

__all__ = ["NOT_APPROVED", "PERSON_PREFERENCE", "REFUSED_GRAIN", "SUPPRESSED", "Cell", "calendar_end",
           "delayed_as_of", "own_value", "person_column", "person_pseudonym", "published_as_of", "suppress",
           "team_cells"]

NOT_APPROVED = "not_approved"
REFUSED_GRAIN = "refused_grain"
SUPPRESSED = "suppressed"
PERSON_PREFERENCE = ("ratee", "person", "author", "reviewer", "responder", "rater")
"""Which person column an indicator is about when it does not group by one: the first of these the
dataset has (the subject before the actor: `feedback` is about its `ratee`), else its first person column."""


@dataclass(frozen=True)
class Cell:
    """One published aggregate: a team (`group`), or the organisation total (`group` None)."""

    group: str | None
    value: float | None
    people: int
    sample_size: int = 0
    suppressed: bool = False


def suppress(cells: Sequence[Cell], min_group_size: int) -> list[Cell]:
    """`cells` (team cells and at most one total, group None) in the same order, with every cell that has
    rows (a value, a sample size or people: with or without a value) about fewer than `min_group_size`
    people hidden (value None, sample size 0, `suppressed`), plus complementary suppression (module doc).
    A cell without any rows is left as it is. Pure: no engine.

    >>> [c.suppressed for c in suppress([Cell("a", 1.0, 2), Cell("b", 9.0, 9), Cell(None, 10.0, 11)], 5)]
    [True, True, False]
    >>> [c.suppressed for c in suppress([Cell("a", 1.0, 2), Cell("b", 2.0, 2), Cell(None, 3.0, 4)], 5)]
    [True, True, True]
    >>> [c.suppressed for c in suppress([Cell("a", None, 4, 4), Cell("b", 9.0, 9, 9), Cell(None, 13.0, 13, 13)], 5)]
    [True, True, False]
    """
    def has_rows(c: Cell) -> bool:
        return c.value is not None or c.sample_size > 0 or c.people > 0

    def small(c: Cell) -> bool:
        return has_rows(c) and c.people < min_group_size

    teams = [c for c in cells if c.group is not None]
    total = next((c for c in cells if c.group is None), None)
    hidden = {c.group for c in teams if small(c)}
    hide_total = total is not None and small(total)
    if total is not None and not hide_total and hidden:
        covered = sum(c.people for c in teams if c.group in hidden)
        shown = sorted((c for c in teams if c.group not in hidden and has_rows(c)),
                       key=lambda c: (c.people, c.group))
        for cell in shown:
            if covered >= min_group_size:
                break
            hidden.add(cell.group)
            covered += cell.people
        hide_total = covered < min_group_size
    hide = hidden | ({None} if hide_total else set())
    return [replace(c, value=None, sample_size=0, suppressed=True) if c.group in hide else c for c in cells]


def delayed_as_of(as_of: date, today: date, privacy: PrivacySettings) -> date:
    """The as-of date an individual-level indicator is evaluated for: `as_of`, at the latest
    `today - individual_delay_days`.

    >>> delayed_as_of(date(2026, 3, 31), date(2026, 4, 3), PrivacySettings())
    datetime.date(2026, 3, 27)
    """
    return min(as_of, today - timedelta(days=privacy.individual_delay_days))


def calendar_end(cadence: str, day: date) -> date:
    """The last day on or before `day` that ends a calendar period of `cadence`: a Sunday (the end of an ISO
    week) for weekly, a month's last day for monthly, a quarter's last day for quarterly; `day` for daily.
    `catalog.periods.current_and_previous` on that day gives the calendar period and the one before it.

    >>> [calendar_end(c, date(2026, 3, 31)) for c in ("weekly", "monthly", "quarterly")]
    [datetime.date(2026, 3, 29), datetime.date(2026, 3, 31), datetime.date(2026, 3, 31)]
    >>> [calendar_end(c, date(2026, 3, 30)) for c in ("weekly", "monthly", "quarterly")]
    [datetime.date(2026, 3, 29), datetime.date(2026, 2, 28), datetime.date(2025, 12, 31)]
    """
    if cadence == "daily":
        return day
    after = day + timedelta(days=1)
    if cadence == "weekly":
        start = after - timedelta(days=after.weekday())
    else:
        step = 3 if cadence == "quarterly" else 1
        start = date(after.year, (after.month - 1) // step * step + 1, 1)
    return start - timedelta(days=1)


def published_as_of(cadence: str, as_of: date, today: date, privacy: PrivacySettings) -> date:
    """The as-of date an individual-level indicator is evaluated for: `as_of` clamped by the delay
    (`delayed_as_of`), then moved back to the end of the last complete calendar period (`calendar_end`).

    >>> published_as_of("weekly", date(2026, 3, 31), date(2026, 4, 3), PrivacySettings())
    datetime.date(2026, 3, 22)
    """
    return calendar_end(cadence, delayed_as_of(as_of, today, privacy))


def person_column(calc: Calculation) -> str | None:
    """The person column the calculation's numbers are about: its `group_by` when that is a person column,
    else the dataset's by `PERSON_PREFERENCE`; None for a dataset without person columns."""
    dataset = REGISTRY.get(calc.dataset)
    if dataset is None:
        return None
    columns = [c for c in dataset.person_columns if c != "aliases"]
    if calc.group_by in columns:
        return calc.group_by
    preferred = [c for c in PERSON_PREFERENCE if c in columns]
    return (preferred or columns or [None])[0]


def _people(store: Any, calc: Calculation, period: Period, person: str) -> ir.Table:
    """The population with the person resolved through `people.aliases`."""
    return canonical(population(store, calc, period), person, store)


def team_cells(store: Any, calc: Calculation, period: Period, person: str) -> list[Cell]:
    """The calculation per team of the `person` column's people (sorted by team) and for the whole
    organisation (last), each with its distinct people; nothing suppressed yet (see `suppress`). Two Ibis
    aggregations."""
    t = _people(store, calc, period, person)
    teams = person_teams(store, period.end).rename(_pp="person", _team="team")
    t = t.left_join(teams, t[person] == teams._pp)
    t = t.mutate(_group=t._team.cast("string").fill_null(NULL_GROUP)).drop("_pp", "_team")
    cells = []
    for row in sorted(aggregate(t, calc, "_group", person), key=lambda r: str(r["_group"])):
        value = finish(row, calc)
        cells.append(Cell(str(row["_group"]), value.value, int(row["people"] or 0), value.sample_size))
    [row] = aggregate(t, calc, None, person)
    value = finish(row, calc)
    return [*cells, Cell(None, value.value, int(row["people"] or 0), value.sample_size)]


def own_value(store: Any, calc: Calculation, period: Period, person: str, pseudonym: str) -> GroupValue:
    """The calculation over the rows of one person (`person` column equal to `pseudonym`, aliases
    resolved): what that person may see about themself. No rows in a period the dataset covers is a real
    0 for a count or a sum (as in `catalog.compute`)."""
    t = _people(store, calc, period, person)
    [row] = aggregate(t.filter(t[person] == pseudonym), calc)
    result = finish(row, calc)
    return empty_value(store, calc, period) if result.sample_size == 0 else result


def person_pseudonym(user: str, key_file: Path) -> str:
    """The pseudonym person columns hold for `user` (as ingest computes it with the workspace's key); an
    InputError when the key file does not exist (then nothing about anyone has been ingested).

    >>> import tempfile
    >>> key_file = Path(tempfile.mkdtemp()) / "pseudonym.key"
    >>> _ = key_file.write_text(bytes(range(32)).hex())
    >>> person_pseudonym("alice", key_file) == pseudonym("alice", bytes(range(32)))
    True
    """
    if not key_file.exists():
        raise InputError("there is no pseudonymisation key, so no data about people yet", file=key_file)
    return pseudonym(user, bytes.fromhex(key_file.read_text().strip()))
