"""The SLO alert backtest: burn rates, firing episodes and incident scores, checked against hand arithmetic.

The synthetic history (`history` fixture), in `sli_events` of an in-memory store, 1-minute buckets:

- day 0 00:00 to day 3 00:00 at 2000 events a minute with 1 bad event a minute (0.05 % errors), so with
  target 0.999 the baseline burn rate is 0.0005 / 0.001 = 0.5 in every window;
- outage O1 day 1 12:00-12:30 and outage O2 day 2 02:00-02:10 at 400 bad of 2000 (20 %, burn 200);
- a zero-traffic gap on day 2: no rows at all 16:00-16:05, rows with good = total = 0 at 16:05-16:10.

With `n` minutes of data in a window and `k` outage minutes among them, bad = n + 399 k and total = 2000 n,
so burn = (n + 399 k) / (2000 n) / 0.001 = 0.5 + 199.5 k / n. Every episode below is derived from that.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engmetrics.slo.alerting import DEFAULT_TABLE, AlertTable, AlertTier
from engmetrics.slo.backtest import backtest, burn_column, burn_rates, firing_episodes
from engmetrics.slo.sloth import AlertWindows
from engmetrics.slo.sources import sli_events_source
from engmetrics.store import Store

TARGET = 0.999
PERIOD = 30 * 86400
D0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(day: int, hh: int, mm: int) -> datetime:
    return D0 + timedelta(days=day, hours=hh, minutes=mm)


START, END = at(0, 0, 0), at(3, 0, 0)
O1, O2 = (at(1, 12, 0), at(1, 12, 30)), (at(2, 2, 0), at(2, 2, 10))


def _history_frame() -> pd.DataFrame:
    ts = pd.date_range(START, END, freq="min", inclusive="left")
    bad = np.ones(len(ts))
    total = np.full(len(ts), 2000.0)
    for first, last in (O1, O2):
        bad[(ts >= first) & (ts < last)] = 400.0
    gap = (ts >= at(2, 16, 5)) & (ts < at(2, 16, 10))
    bad[gap], total[gap] = 0.0, 0.0
    frame = pd.DataFrame({"ts": ts, "good": total - bad, "total": total})
    return frame[~((ts >= at(2, 16, 0)) & (ts < at(2, 16, 5)))]  # no rows at all for five minutes


@pytest.fixture
def history():
    """(store, events): the synthetic history in `sli_events` and its 1-minute indicator source."""
    with Store.open("duckdb://") as store:
        store.sql.register("history_frame", _history_frame())
        store.sql.execute(
            "INSERT INTO sli_events SELECT 'checkout', 'availability', ts, good, total FROM history_frame")
        store.sql.unregister("history_frame")
        yield store, sli_events_source(store, "checkout", "availability", start=START - timedelta(days=3), end=END,
                                       unit="minute")


@pytest.fixture
def custom_table(shared_data) -> AlertTable:
    doc = yaml.safe_load((shared_data / "sloth" / "windows" / "custom-30d.yaml").read_text())
    from engmetrics.slo.alerting import table_from_sloth

    return table_from_sloth(AlertWindows.model_validate(doc), name="custom-30d")


def firing(table: AlertTable, long_window: str, start: datetime, end: datetime) -> dict:
    tier = next(t for t in table.tiers if t.long_window == long_window)
    return {"start": start, "end": end, "severity": tier.severity, "long_window": tier.long_window,
            "short_window": tier.short_window, "factor": tier.factor(PERIOD)}


def incidents(*rows: tuple) -> pd.DataFrame:
    """Incident frame from (id, impact_started_at, declared_at, mitigated_at, resolved_at) rows."""
    columns = ["incident_id", "impact_started_at", "declared_at", "mitigated_at", "resolved_at"]
    frame = pd.DataFrame(rows, columns=columns)
    for c in columns[1:]:
        frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame


INCIDENT_O1 = ("A", at(1, 12, 0), at(1, 12, 10), None, at(1, 13, 0))  # covers O1
INCIDENT_QUIET = ("B", at(2, 20, 0), at(2, 20, 5), None, at(2, 21, 0))  # no burn at all


# Default table, 30-day period: factors 14.4 (1h/5m), 6 (6h/30m), 3 (1d/2h), 1 (3d/6h).
#
# O1, t = 12:00 + d on day 1, k = outage minutes in the window:
# - page 1h/5m: long n = 60: 0.5 + 199.5 k / 60 >= 14.4 <=> k >= 4.18, so k = 5 at t = 12:05 (k = 4 gives 13.8);
#   short n = 5 needs k >= 1 (0.5 + 39.9 = 40.4). Stops when the 5m window is clear of O1: 12:30 + 5m = 12:35.
# - page 6h/30m: 0.5 + 199.5 k / 360 >= 6 <=> k >= 9.92: k = 10 at 12:10 (6.04; k = 9 gives 5.49); the 30m
#   window needs k >= 1 (6.15); stops at 12:30 + 30m = 13:00.
# - ticket 1d/2h: 0.5 + 199.5 k / 1440 >= 3 <=> k >= 18.05: 12:19 (k = 19: 3.13; k = 18: 2.99375); the 2h window
#   needs 0.5 + 199.5 k / 120 >= 3 <=> k >= 2 (3.825; k = 1: 2.16), so it stops when [t - 2h, t) holds only
#   12:29: t = 14:29.
# - ticket 3d/6h: the data began 2160 + d minutes before t, so n = 2160 + d and k = d:
#   0.5 + 199.5 d / (2160 + d) >= 1 <=> 398 d >= 2160 <=> d >= 5.43: 12:06 (1.053; d = 5: 0.961); the 6h window
#   needs k >= 1 (1.054); stops at 12:30 + 6h = 18:30. (The 3d window stays above 1 until the data ends:
#   0.5 + 199.5 x 30 / 4320 = 1.885.)
# O2, day 2 02:00-02:10 (O1 is out of the 1h, 6h windows but inside the 1d and 3d windows):
# - page 1h/5m: k = 5 at 02:05; stops 02:15 (the 1h window at 02:14 has k = 10: 33.75).
# - page 6h/30m: k = 10 at 02:10 (6.04); stops 02:40 (the 6h window keeps k = 10 until 08:00).
# - ticket 1d/2h: the 1d window holds O1's 30 minutes (>= 19), so the 2h window decides: k >= 2 at 02:02,
#   k = 1 at 04:09 ([02:09, 04:09)).
# - ticket 3d/6h: the 3d window holds O1; the 6h window has k >= 1 from 02:01 to 08:09, stops at 08:10.
# The gap (day 2 16:00-16:10) has no burn and is far from both outages: nothing fires there.
def expected_default() -> list[dict]:
    t = DEFAULT_TABLE
    return [
        firing(t, "1h", at(1, 12, 5), at(1, 12, 35)),
        firing(t, "3d", at(1, 12, 6), at(1, 18, 30)),
        firing(t, "6h", at(1, 12, 10), at(1, 13, 0)),
        firing(t, "1d", at(1, 12, 19), at(1, 14, 29)),
        firing(t, "3d", at(2, 2, 1), at(2, 8, 10)),
        firing(t, "1d", at(2, 2, 2), at(2, 4, 9)),
        firing(t, "1h", at(2, 2, 5), at(2, 2, 15)),
        firing(t, "6h", at(2, 2, 10), at(2, 2, 40)),
    ]


def test_default_factors_are_the_workbook_ones():
    assert [round(t.factor(PERIOD), 9) for t in DEFAULT_TABLE.tiers] == [14.4, 6.0, 3.0, 1.0]


def test_burn_rates_at_hand_checked_points(history):
    _, events = history
    rates = burn_rates(events, target=TARGET, windows=DEFAULT_TABLE.windows, start=START, end=END).to_pyarrow()
    assert rates.num_rows == 3 * 1440
    ts = rates["ts"].to_pylist()
    assert ts[0] == START and ts[-1] == at(2, 23, 59)
    row = {t: i for i, t in enumerate(ts)}

    def burn(window: str, when: datetime) -> float | None:
        return rates[burn_column(window)][row[when]].as_py()

    assert burn("1h", START) is None  # no data before the first bucket
    assert burn("5m", at(0, 0, 1)) == pytest.approx(0.5)  # 1 bad / 2000 / 0.001
    assert burn("1h", at(1, 12, 5)) == pytest.approx(17.125)  # (60 + 399 x 5) / 120000 / 0.001
    assert burn("5m", at(1, 12, 5)) == pytest.approx(200.0)  # 2000 / 10000 / 0.001
    assert burn("1d", at(1, 12, 19)) == pytest.approx(0.5 + 199.5 * 19 / 1440)
    assert burn("3d", at(1, 12, 6)) == pytest.approx(0.5 + 199.5 * 6 / 2166)
    # The zero-traffic gap: the 5m window has no events at 16:05 ... 16:10, then 16:10's bucket is back.
    assert burn("5m", at(2, 16, 4)) == pytest.approx(0.5)  # [15:59, 16:04) holds 15:59
    assert [burn("5m", at(2, 16, m)) for m in range(5, 11)] == [None] * 6
    assert burn("5m", at(2, 16, 11)) == pytest.approx(0.5)
    assert burn("1h", at(2, 16, 10)) == pytest.approx(0.5)  # 50 minutes with data, all at the baseline
    for name in rates.column_names[1:]:  # never NaN or infinite, only null
        column = rates[name]
        assert not pc.any(pc.is_nan(column)).as_py()
        assert pc.all(pc.is_finite(column.drop_null())).as_py()


def test_default_table_episodes_match_the_hand_arithmetic(history):
    _, events = history
    assert firing_episodes(events, target=TARGET, period_seconds=PERIOD, table=DEFAULT_TABLE,
                           start=START, end=END) == expected_default()


def test_a_coarser_step_moves_starts_and_ends_to_the_next_grid_point(history):
    _, events = history
    t = DEFAULT_TABLE
    got = firing_episodes(events, target=TARGET, period_seconds=PERIOD, table=t, start=START, end=END, step="5m")
    assert got == [  # each 1-minute boundary rounded up to a multiple of 5 minutes; equal starts in tier order
        firing(t, "1h", at(1, 12, 5), at(1, 12, 35)),
        firing(t, "6h", at(1, 12, 10), at(1, 13, 0)),
        firing(t, "3d", at(1, 12, 10), at(1, 18, 30)),
        firing(t, "1d", at(1, 12, 20), at(1, 14, 30)),
        firing(t, "1h", at(2, 2, 5), at(2, 2, 15)),
        firing(t, "1d", at(2, 2, 5), at(2, 4, 10)),
        firing(t, "3d", at(2, 2, 5), at(2, 8, 10)),
        firing(t, "6h", at(2, 2, 10), at(2, 2, 40)),
    ]


def test_history_before_start_feeds_the_windows_and_end_cuts_open_episodes(history):
    _, events = history
    t = DEFAULT_TABLE
    got = firing_episodes(events, target=TARGET, period_seconds=PERIOD, table=t, start=at(1, 12, 0),
                          end=at(1, 12, 20))
    assert got == [  # same starts as over the whole history; all still firing at 12:20
        firing(t, "1h", at(1, 12, 5), at(1, 12, 20)),
        firing(t, "3d", at(1, 12, 6), at(1, 12, 20)),
        firing(t, "6h", at(1, 12, 10), at(1, 12, 20)),
        firing(t, "1d", at(1, 12, 19), at(1, 12, 20)),
    ]


def test_scores_with_an_incident_on_o1_and_a_quiet_incident(history):
    _, events = history
    report = backtest(events, target=TARGET, period_seconds=PERIOD, tables=[DEFAULT_TABLE], start=START, end=END,
                      incidents=incidents(INCIDENT_O1, INCIDENT_QUIET))
    (result,) = report.tables
    assert result.firings == expected_default()
    page, ticket = result.page, result.ticket
    # Pages start at 12:05, 12:10 (inside A = [12:00, 13:00]) and 02:05, 02:10 (O2, no incident).
    assert (page.firings, page.true_positives, page.false_positives, page.precision) == (4, 2, 2, 0.5)
    assert (page.incidents, page.detected, page.recall) == (2, 1, 0.5)
    assert page.detection_delay_median == page.detection_delay_p90 == 300.0  # 12:05 - 12:00
    # Before 12:05, O1 spent 5 x 400 bad events; the period window [12:05 - 30d, 12:05) holds all the data
    # so far, 2165 minutes x 2000 events, which allows 0.001 x 4,330,000 = 4330 bad events.
    assert page.budget_consumed_median == pytest.approx(2000 / 4330)
    a, b = page.per_incident
    assert (a.incident_id, a.first_alert, a.detection_delay_seconds) == ("A", at(1, 12, 5), 300.0)
    assert (b.incident_id, b.first_alert, b.detection_delay_seconds, b.budget_consumed) == ("B", None, None, None)
    # Tickets start at 12:06 and 12:19 (A) and 02:01, 02:02 (O2): first ticket 6 minutes in.
    assert (ticket.firings, ticket.true_positives, ticket.precision, ticket.recall) == (4, 2, 0.5, 0.5)
    assert ticket.detection_delay_median == 360.0
    assert ticket.budget_consumed_median == pytest.approx(6 * 400 / (0.001 * 2166 * 2000))


def test_only_the_covering_incident_gives_recall_one_and_no_incidents_give_none(history):
    _, events = history
    report = backtest(events, target=TARGET, period_seconds=PERIOD, tables=DEFAULT_TABLE, start=START, end=END,
                      incidents=incidents(INCIDENT_O1))
    assert report.tables[0].page.recall == 1.0
    assert report.tables[0].page.detection_delay_median == 300.0
    none = backtest(events, target=TARGET, period_seconds=PERIOD, tables=[DEFAULT_TABLE], start=START, end=END,
                    incidents=None)
    assert none.incidents == 0
    assert (none.tables[0].page.recall, none.tables[0].page.precision) == (None, 0.0)
    assert none.tables[0].page.detection_delay_median is None


def test_median_and_p90_interpolate_linearly(history):
    _, events = history
    on_o2 = ("D", at(2, 1, 58), at(2, 2, 3), None, at(2, 3, 0))  # first page 02:05: delay 7 minutes
    report = backtest(events, target=TARGET, period_seconds=PERIOD, tables=[DEFAULT_TABLE], start=START, end=END,
                      incidents=incidents(INCIDENT_O1, INCIDENT_QUIET, on_o2))
    page = report.tables[0].page
    assert (page.precision, page.recall) == (1.0, pytest.approx(2 / 3))
    # delays 300 and 420: median 360, p90 = 300 + 0.9 x (420 - 300) = 408
    assert (page.detection_delay_median, page.detection_delay_p90) == (360.0, pytest.approx(408.0))
    # D: bad in [01:58, 02:05) = 2 x 1 + 5 x 400 = 2002; allowed 0.001 x (2880 + 125) x 2000 = 6010
    assert page.per_incident[2].budget_consumed == pytest.approx(2002 / 6010)
    assert page.budget_consumed_median == pytest.approx((2000 / 4330 + 2002 / 6010) / 2)


def test_fallbacks_slack_and_skipped_incidents(history):
    _, events = history
    # No impact start: declared 12:08 counts; no resolved_at: mitigated 12:40 closes the interval.
    late = ("C", None, at(1, 12, 8), at(1, 12, 40), None)
    no_start = ("X", None, None, None, None)
    outside = ("Y", at(5, 0, 0), at(5, 0, 5), None, at(5, 1, 0))  # after the range: not scored
    frame = incidents(late, no_start, outside)
    strict = backtest(events, target=TARGET, period_seconds=PERIOD, tables=[DEFAULT_TABLE], start=START, end=END,
                      incidents=frame)
    assert strict.incidents == 1 and strict.skipped_incidents == ("X",)
    page = strict.tables[0].page
    # [12:08, 12:40]: the 12:05 page starts before it, the 12:10 page inside: delay 2 minutes, precision 1/4.
    assert (page.detection_delay_median, page.true_positives, page.precision) == (120.0, 1, 0.25)
    slack = backtest(events, target=TARGET, period_seconds=PERIOD, tables=[DEFAULT_TABLE], start=START, end=END,
                     incidents=frame, slack_seconds=600)
    page = slack.tables[0].page
    # [11:58, 12:40]: the 12:05 page now counts, 3 minutes before the recorded start.
    assert (page.detection_delay_median, page.true_positives, page.precision) == (-180.0, 2, 0.5)
    assert page.per_incident[0].budget_consumed == 0.0  # nothing bad between 12:08 and an earlier page
    # No resolved_at nor mitigated_at: open until the end of the range, so the O2 pages count too.
    still_open = backtest(events, target=TARGET, period_seconds=PERIOD, tables=[DEFAULT_TABLE], start=START,
                          end=END, incidents=incidents(("Z", at(1, 12, 0), None, None, None)))
    assert still_open.tables[0].page.precision == 1.0
    assert still_open.tables[0].page.per_incident[0].resolved == END


def test_incident_interval_includes_both_ends(history):
    _, events = history
    starts_at_page = ("S", at(1, 12, 5), at(1, 12, 5), None, at(1, 12, 7))  # [12:05, 12:07]: the 12:05 page
    ends_at_page = ("E", at(2, 1, 0), at(2, 1, 0), None, at(2, 2, 5))  # [01:00, 02:05]: the 02:05 page
    report = backtest(events, target=TARGET, period_seconds=PERIOD, tables=[DEFAULT_TABLE], start=START, end=END,
                      incidents=incidents(starts_at_page, ends_at_page))
    page = report.tables[0].page
    assert [s.first_alert for s in page.per_incident] == [at(1, 12, 5), at(2, 2, 5)]
    assert [s.detection_delay_seconds for s in page.per_incident] == [0.0, 65 * 60.0]
    assert page.per_incident[0].budget_consumed == 0.0  # nothing spent in [12:05, 12:05)
    assert (page.true_positives, page.recall) == (2, 1.0)


def test_budget_uses_the_period_window_ending_at_the_page(history):
    _, events = history
    # A 1-day period with 30 times the budget shares keeps the default factors (0.6 x 86400 / 3600 = 14.4 ...),
    # so the same episodes, but the period window [12:05 - 1d, 12:05) now starts inside the data:
    # 1440 minutes x 2000 events allow 2880 bad events; 2000 were spent by 12:05.
    scaled = AlertTable("scaled", tuple(AlertTier(t.severity, t.long_window, t.short_window, t.budget_share * 30)
                                        for t in DEFAULT_TABLE.tiers))
    report = backtest(events, target=TARGET, period_seconds=86400, tables=[scaled], start=START, end=END,
                      incidents=incidents(INCIDENT_O1))
    assert [f["start"] for f in report.tables[0].firings] == [f["start"] for f in expected_default()]
    assert report.tables[0].page.budget_consumed_median == pytest.approx(2000 / 2880)


def test_incidents_from_the_store_filtered_by_service(history):
    store, events = history
    store.sql.execute(
        "INSERT INTO incidents (incident_id, service, severity, declared_at, impact_started_at, resolved_at) VALUES "
        "('A', 'checkout', 2, '2026-03-02 12:10:00+00', '2026-03-02 12:00:00+00', '2026-03-02 13:00:00+00'), "
        "('B', 'checkout', 3, '2026-03-03 20:05:00+00', '2026-03-03 20:00:00+00', '2026-03-03 21:00:00+00'), "
        "('O', 'search', 1, '2026-03-03 02:00:00+00', '2026-03-03 02:00:00+00', '2026-03-03 03:00:00+00')")
    report = backtest(events, target=TARGET, period_seconds=PERIOD, tables=[DEFAULT_TABLE], start=START, end=END,
                      incidents=store.table("incidents"), service="checkout")
    page = report.tables[0].page
    assert (report.incidents, page.precision, page.recall, page.detection_delay_median) == (2, 0.5, 0.5, 300.0)


# custom-30d.yaml, 30-day period: page 30m/2m at 1 % (14.4), page 3h/15m at 2 % (4.8), ticket 12h/1h at 5 % (3),
# ticket 36h/3h at 5 % (1).
# O1: 30m/2m: 0.5 + 199.5 k / 30 >= 14.4 <=> k >= 2.09: 12:03 (20.45; k = 2: 13.8); stops 12:32 (2m window clear).
#     3h/15m: 0.5 + 199.5 k / 180 >= 4.8 <=> k >= 3.88: 12:04 (4.93); stops 12:45.
#     12h/1h: 0.5 + 199.5 k / 720 >= 3 <=> k >= 9.02: 12:10 (3.27; k = 9: 2.99375); stops 13:30.
#     36h/3h: n = 2160: 0.5 + 199.5 k / 2160 >= 1 <=> k >= 5.41: 12:06; 3h window needs k >= 1; stops 15:30.
# O2: 30m/2m 02:03-02:12; 3h/15m 02:04-02:25; 12h/1h (O1 is 13.5 h back, outside) k = 10 at 02:10, stops 03:10;
#     36h/3h holds O1, so the 3h window decides: 02:01-05:10.
def test_custom_table_side_by_side_with_the_default(history, custom_table):
    _, events = history
    c = custom_table
    assert [round(t.factor(PERIOD), 9) for t in c.tiers] == [14.4, 4.8, 3.0, 1.0]
    report = backtest(events, target=TARGET, period_seconds=PERIOD, tables=[DEFAULT_TABLE, c], start=START,
                      end=END, incidents=incidents(INCIDENT_O1, INCIDENT_QUIET))
    default, custom = report.tables
    assert default.firings == expected_default()
    assert custom.firings == [
        firing(c, "30m", at(1, 12, 3), at(1, 12, 32)),
        firing(c, "3h", at(1, 12, 4), at(1, 12, 45)),
        firing(c, "36h", at(1, 12, 6), at(1, 15, 30)),
        firing(c, "12h", at(1, 12, 10), at(1, 13, 30)),
        firing(c, "36h", at(2, 2, 1), at(2, 5, 10)),
        firing(c, "30m", at(2, 2, 3), at(2, 2, 12)),
        firing(c, "3h", at(2, 2, 4), at(2, 2, 25)),
        firing(c, "12h", at(2, 2, 10), at(2, 3, 10)),
    ]
    rows = {row["table"]: row for row in report.comparison()}
    assert rows["default"]["page_delay_median_s"] == 300.0
    assert rows["custom-30d"]["page_delay_median_s"] == 180.0  # the 30m/2m pair pages two minutes sooner
    assert rows["custom-30d"]["page_budget_consumed_median"] == pytest.approx(3 * 400 / (0.001 * 2163 * 2000))
    assert (rows["custom-30d"]["page_precision"], rows["custom-30d"]["page_recall"]) == (0.5, 0.5)
    assert (rows["custom-30d"]["ticket_delay_median_s"], rows["custom-30d"]["ticket_precision"]) == (360.0, 0.5)
    assert report.table("custom-30d") is custom


def test_invalid_arguments_are_refused(history):
    _, events = history
    with pytest.raises(ValueError, match="whole number of minutes"):
        burn_rates(events, target=TARGET, windows=["90s"], start=START, end=END)
    with pytest.raises(ValueError, match="empty range"):
        burn_rates(events, target=TARGET, windows=["5m"], start=END, end=START)
    with pytest.raises(ValueError, match="target"):
        burn_rates(events, target=1.0, windows=["5m"], start=START, end=END)


def test_thirty_days_of_minutes_run_in_well_under_a_few_seconds():
    n = 30 * 1440
    rng = np.random.default_rng(7)
    bad = rng.binomial(1000, 0.0005, n).astype(float)
    bad[20_000:20_030] = 200.0
    frame = pd.DataFrame({"ts": pd.date_range(START, periods=n, freq="min"), "good": 1000.0 - bad,
                          "total": np.full(n, 1000.0)})
    events = ibis.memtable(frame)
    incident = incidents(("A", START + timedelta(minutes=20_000), None, None, START + timedelta(minutes=20_100)))
    wide = AlertTable("wide", (AlertTier("page", "2h", "10m", 0.03), AlertTier("ticket", "12h", "1h", 0.1)))
    began = time.perf_counter()
    report = backtest(events, target=TARGET, period_seconds=PERIOD, tables=[DEFAULT_TABLE, wide], start=START,
                      end=START + timedelta(days=30), incidents=incident)
    elapsed = time.perf_counter() - began
    assert report.tables[0].page.recall == 1.0
    assert elapsed < 10, elapsed  # about 0.3 s on DuckDB; the bound only catches a per-row Python loop


# --- properties ---------------------------------------------------------------------------------------------

BASE = datetime(2026, 1, 1, 12, 0)

rows_strategy = st.lists(
    st.tuples(st.integers(-12, 30), st.integers(0, 59), st.integers(0, 20), st.integers(0, 20)),
    max_size=40,
)


def _frame(rows) -> pd.DataFrame:
    """Events at BASE + minute + second with good <= total (both drawn, the smaller is good)."""
    return pd.DataFrame({
        "ts": pd.to_datetime([BASE + timedelta(minutes=m, seconds=s) for m, s, _, _ in rows]),
        "good": [float(min(a, b)) for _, _, a, b in rows],
        "total": [float(max(a, b)) for _, _, a, b in rows],
    }).astype({"ts": "datetime64[us]"})


def _brute_force(frame: pd.DataFrame, windows, target, step_minutes, end_minutes) -> dict[str, list]:
    """Burn rates by filtering the raw rows for every evaluation time (quadratic, obviously correct)."""
    out: dict[str, list] = {w: [] for w in windows}
    times = [BASE + timedelta(minutes=k) for k in range(0, end_minutes, step_minutes)]
    for t in times:
        for w in windows:
            lo = t - timedelta(minutes=int(w[:-1]))
            inside = frame[(frame.ts >= lo) & (frame.ts < t)]
            total = inside.total.sum()
            out[w].append(None if total == 0 else (total - inside.good.sum()) / total / (1 - target))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy, windows=st.sets(st.sampled_from(["1m", "2m", "3m", "5m", "7m"]), min_size=1, max_size=3),
       target=st.sampled_from([0.5, 0.9, 0.99]), step=st.integers(1, 3), span=st.integers(1, 25))
def test_burn_rates_equal_a_brute_force_recomputation(rows, windows, target, step, span):
    frame = _frame(rows)
    windows = sorted(windows)
    got = burn_rates(ibis.memtable(frame), target=target, windows=windows, start=BASE,
                     end=BASE + timedelta(minutes=span), step=f"{step}m").to_pyarrow()
    expected = _brute_force(frame, windows, target, step, span)
    assert got["ts"].to_pylist() == [
        (BASE + timedelta(minutes=k)).replace(tzinfo=UTC) for k in range(0, span, step)]
    for w in windows:
        values = got[burn_column(w)].to_pylist()
        assert [v is None for v in values] == [e is None for e in expected[w]], w
        assert [v for v in values if v is not None] == pytest.approx([e for e in expected[w] if e is not None])
        assert not any(isinstance(v, float) and math.isnan(v) for v in values)


SMALL = AlertTable("small", (AlertTier("page", "10m", "2m", 0.01), AlertTier("ticket", "6m", "3m", 0.005)))


def _firing_minutes(firings) -> set[tuple[str, datetime]]:
    """Every (long window, evaluation minute) at which a tier fired."""
    out = set()
    for f in firings:
        t = f["start"]
        while t < f["end"]:
            out.add((f["long_window"], t))
            t += timedelta(minutes=1)
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy, raise_by=st.lists(st.integers(0, 20), min_size=40, max_size=40))
def test_raising_bad_counts_never_removes_a_firing(rows, raise_by):
    # period 1 day, target 0.9: factors 0.01 x 86400 / 600 = 1.44 and 0.005 x 86400 / 360 = 1.2, i.e. error
    # ratios 14.4 % and 12 %: reachable with these small counts.
    frame = _frame(rows)
    raised = frame.copy()
    raised["good"] = np.maximum(raised["good"] - np.array(raise_by[: len(frame)], dtype=float), 0.0)
    args = {"target": 0.9, "period_seconds": 86400, "table": SMALL, "start": BASE, "end": BASE + timedelta(minutes=30)}
    before = _firing_minutes(firing_episodes(ibis.memtable(frame), **args))
    after = _firing_minutes(firing_episodes(ibis.memtable(raised), **args))
    assert before <= after


# --- portability --------------------------------------------------------------------------------------------

@pytest.mark.spark
@pytest.mark.slow
def test_the_backtest_gives_the_same_report_on_pyspark(history, spark_session):
    store, events = history
    spark = ibis.pyspark.connect(spark_session)
    spark_session.createDataFrame(store.table("sli_events").to_pyarrow().to_pandas()).createOrReplaceTempView(
        "sli_events")
    on_spark = Store(spark, url="pyspark://")
    spark_events = sli_events_source(on_spark, "checkout", "availability", start=START - timedelta(days=3), end=END,
                                     unit="minute")
    args = {"target": TARGET, "period_seconds": PERIOD, "tables": [DEFAULT_TABLE], "start": START, "end": END,
            "incidents": incidents(INCIDENT_O1, INCIDENT_QUIET)}
    on_duckdb = backtest(events, **args)
    theirs = backtest(spark_events, **args)
    assert theirs.tables[0].firings == on_duckdb.tables[0].firings == expected_default()
    (ours,), (spark_row,) = on_duckdb.comparison(), theirs.comparison()
    assert spark_row.pop("table") == ours.pop("table")
    assert spark_row == pytest.approx(ours)


# --- the `slo backtest` replay of a workspace SLO -------------------------------------------------------------

def _replay_specs(tmp_path, *extra: str):
    from test_status import slo_doc, specs_of

    return specs_of(tmp_path, slo_doc("checkout-availability", "checkout", "availability"), *extra)


def test_replay_reads_a_whole_period_before_the_first_page(tmp_path):
    from test_status import minutes

    from engmetrics.slo.replay import backtest_slo

    # 1000 events a minute from 1 February for 35 days; 200 bad a minute on 7 March 12:00-12:30 (INC-1).
    # Default table, 30-day period: the 1h burn is 200 k / 60,000 / 0.001 >= 14.4 from k = 5: first page 12:05.
    # Spent before it: 5 x 200 = 1000 bad events; allowed in [12:05 - 30 d, 12:05): 0.001 x 30 x 1440 x 1000
    # = 43,200, so 1000 / 43,200 = 0.02315 (reading only 3 days before the range gave 1000 / 5045 = 0.198).
    first = datetime(2026, 2, 1, tzinfo=UTC)
    start, end = datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
    outage = int((datetime(2026, 3, 7, 12, tzinfo=UTC) - first).total_seconds() // 60)
    with Store.open("duckdb://") as store:
        minutes(store, "checkout", "availability", first, 35 * 1440, 1000, outage, outage + 30, 200)
        store.sql.execute("""INSERT INTO incidents (incident_id, service, severity, impact_started_at, declared_at,
            resolved_at) VALUES ('INC-1', 'checkout', 2, '2026-03-07 12:00:00+00', '2026-03-07 12:02:00+00',
            '2026-03-07 13:00:00+00')""")
        report = backtest_slo(store, _replay_specs(tmp_path), "checkout-availability", start=start, end=end)
    page = report.table("default").page
    assert page.per_incident[0].first_alert == datetime(2026, 3, 7, 12, 5, tzinfo=UTC)
    assert page.budget_consumed_median == pytest.approx(1000 / (0.001 * 43_200_000))
    assert round(page.budget_consumed_median, 5) == 0.02315


def test_replay_keeps_alert_windows_named_like_another_table(tmp_path):
    from engmetrics.slo.replay import _tables
    from engmetrics.slo.status import alert_table
    from engmetrics.slo.versions import slo_versions
    from engmetrics.slo.windows import resolve_window

    # Two 30-day AlertWindows documents (both named alert-windows-30d) with different tiers, and a third with
    # the default table's tiers (1h/5m 2 %, 6h/30m 5 %, 1d/2h 10 %, 3d/6h 10 %).
    fast = CUSTOM.replace("errorBudgetPercent: 1,", "errorBudgetPercent: 1.5,")
    same_as_default = CUSTOM.replace("{errorBudgetPercent: 1, shortWindow: 2m, longWindow: 30m}",
                                     "{errorBudgetPercent: 2, shortWindow: 5m, longWindow: 1h}").replace(
        "{errorBudgetPercent: 2, shortWindow: 15m, longWindow: 3h}",
        "{errorBudgetPercent: 5, shortWindow: 30m, longWindow: 6h}").replace(
        "{errorBudgetPercent: 5, shortWindow: 1h, longWindow: 12h}",
        "{errorBudgetPercent: 10, shortWindow: 2h, longWindow: 1d}").replace(
        "{errorBudgetPercent: 5, shortWindow: 3h, longWindow: 36h}",
        "{errorBudgetPercent: 10, shortWindow: 6h, longWindow: 3d}")
    specs = _replay_specs(tmp_path, CUSTOM, fast, same_as_default)
    [version] = slo_versions(specs)["checkout-availability"]
    own = alert_table(specs, version, resolve_window(version.slo.spec.timeWindow[0], START, "UTC"))
    tables = _tables(specs, own)
    # own (the first 30-day document), the workbook, the default, the second 30-day document (renamed); the
    # first document again and the one equal to the default are listed once.
    assert [t.name for t in tables] == ["alert-windows-30d", "workbook", "default", "alert-windows-30d #2"]
    assert [t.tiers[0].budget_share for t in tables] == [0.01, 0.02, 0.02, 0.015]


CUSTOM = """
apiVersion: sloth.slok.dev/v1
kind: AlertWindows
spec:
  sloPeriod: 30d
  page:
    quick: {errorBudgetPercent: 1, shortWindow: 2m, longWindow: 30m}
    slow: {errorBudgetPercent: 2, shortWindow: 15m, longWindow: 3h}
  ticket:
    quick: {errorBudgetPercent: 5, shortWindow: 1h, longWindow: 12h}
    slow: {errorBudgetPercent: 5, shortWindow: 3h, longWindow: 36h}
---"""
