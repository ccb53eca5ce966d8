"""Multi-window, multi-burn-rate alert tables (SRE Workbook, "Alerting on SLOs"; Sloth's AlertWindows).

A tier pages or tickets when the burn rate over **both** its long and its short window is at or above its
factor. Tiers are written as a share of the period's budget spent within the long window, so one table
serves every period: `factor = budget share x period / long window`.

The default table, for a 30-day period, gives the Workbook's and Sloth's factors:

>>> [(t.severity, t.long_window, t.short_window, round(t.factor(30 * 86400), 2)) for t in DEFAULT_TABLE.tiers]
[('page', '1h', '5m', 14.4), ('page', '6h', '30m', 6.0), ('ticket', '1d', '2h', 3.0), ('ticket', '3d', '6h', 1.0)]

For a 28-day period the same shares scale: the fast page fires at 0.02 x 672 h / 1 h = 13.44.

>>> round(DEFAULT_TABLE.tiers[0].factor(28 * 86400), 2)
13.44

A tier fires only when both burn rates are known (None means no events in that window):

>>> DEFAULT_TABLE.tiers[0].firing({"1h": 15.0, "5m": 20.0}, 30 * 86400)
True
>>> DEFAULT_TABLE.tiers[0].firing({"1h": 15.0, "5m": None}, 30 * 86400)
False
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..durations import duration_seconds
from .sloth import AlertWindows

__all__ = ["DEFAULT_TABLE", "STATUS_WINDOWS", "WORKBOOK_TABLE", "AlertTable", "AlertTier", "Severity",
           "choose_table", "table_from_sloth"]

Severity = Literal["page", "ticket"]

# The burn-rate windows `slo status` always reports (the contract's `burn_rates` keys).
STATUS_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


@dataclass(frozen=True)
class AlertTier:
    """One window pair: fire `severity` when both windows burn at `factor(period)` or faster."""

    severity: Severity
    long_window: str
    short_window: str
    budget_share: float  # share of the period's budget the long window may spend before this tier fires

    def factor(self, period_seconds: float) -> float:
        """The burn-rate threshold for an SLO period of `period_seconds`."""
        return self.budget_share * period_seconds / duration_seconds(self.long_window)

    def firing(self, burn_rates: Mapping[str, float | None], period_seconds: float) -> bool:
        """Both windows' burn rates are known and at or above the factor."""
        factor = self.factor(period_seconds)
        rates = (burn_rates.get(self.long_window), burn_rates.get(self.short_window))
        return all(rate is not None and rate >= factor - 1e-12 for rate in rates)


@dataclass(frozen=True)
class AlertTable:
    """A named list of tiers, most urgent first."""

    name: str
    tiers: tuple[AlertTier, ...]

    @property
    def windows(self) -> list[str]:
        """Every window the tiers read, each once, shortest first."""
        names = {w for t in self.tiers for w in (t.long_window, t.short_window)}
        return sorted(names, key=duration_seconds)


DEFAULT_TABLE = AlertTable("default", (
    AlertTier("page", "1h", "5m", 0.02),
    AlertTier("page", "6h", "30m", 0.05),
    AlertTier("ticket", "1d", "2h", 0.10),
    AlertTier("ticket", "3d", "6h", 0.10),
))


# The SRE Workbook's recommendation (chapter 5, "Alerting on SLOs"): no 1d/2h ticket.
WORKBOOK_TABLE = AlertTable("workbook", (
    AlertTier("page", "1h", "5m", 0.02),
    AlertTier("page", "6h", "30m", 0.05),
    AlertTier("ticket", "3d", "6h", 0.10),
))


def table_from_sloth(windows: AlertWindows, name: str | None = None) -> AlertTable:
    """An alert table from a Sloth `AlertWindows` document (page/ticket x quick/slow).

    >>> doc = AlertWindows.model_validate({"apiVersion": "sloth.slok.dev/v1", "kind": "AlertWindows", "spec": {
    ...     "sloPeriod": "7d",
    ...     "page": {"quick": {"errorBudgetPercent": 8, "shortWindow": "5m", "longWindow": "1h"},
    ...              "slow": {"errorBudgetPercent": 12.5, "shortWindow": "30m", "longWindow": "6h"}},
    ...     "ticket": {"quick": {"errorBudgetPercent": 20, "shortWindow": "2h", "longWindow": "1d"},
    ...                "slow": {"errorBudgetPercent": 42, "shortWindow": "6h", "longWindow": "3d"}}}})
    >>> round(table_from_sloth(doc).tiers[0].factor(7 * 86400), 2)
    13.44
    """
    spec = windows.spec
    tiers = tuple(
        AlertTier(severity, pair.longWindow, pair.shortWindow, pair.errorBudgetPercent / 100)
        for severity, tier in (("page", spec.page), ("ticket", spec.ticket))
        for pair in (tier.quick, tier.slow)
    )
    return AlertTable(name or windows.name, tiers)


def choose_table(documents: Sequence[AlertWindows], period_seconds: float | None,
                 wanted: str | None = None) -> AlertTable:
    """The `AlertWindows` document named `wanted` (ValueError when there is none), else the one whose
    `sloPeriod` lasts `period_seconds` (None: a calendar period, matched by none), else the default table."""
    if wanted is not None:
        found = next((d for d in documents if d.name == wanted), None)
        if found is None:
            raise ValueError(f"no AlertWindows document named {wanted!r}")
        return table_from_sloth(found)
    same = next((d for d in documents if duration_seconds(d.spec.sloPeriod) == period_seconds), None)
    return table_from_sloth(same) if same else DEFAULT_TABLE
