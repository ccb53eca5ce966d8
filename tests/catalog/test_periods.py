from datetime import UTC, date, datetime

import pytest

from engmetrics.catalog.periods import Period, current_and_previous, default_as_of

D = date


@pytest.mark.parametrize(("cadence", "as_of", "current", "previous"), [
    ("daily", D(2026, 3, 1), (D(2026, 3, 1), D(2026, 3, 1)), (D(2026, 2, 28), D(2026, 2, 28))),
    ("weekly", D(2026, 3, 31), (D(2026, 3, 25), D(2026, 3, 31)), (D(2026, 3, 18), D(2026, 3, 24))),
    ("monthly", D(2026, 3, 31), (D(2026, 3, 1), D(2026, 3, 31)), (D(2026, 2, 1), D(2026, 2, 28))),
    ("monthly", D(2026, 3, 15), (D(2026, 2, 16), D(2026, 3, 15)), (D(2026, 1, 16), D(2026, 2, 15))),
    ("monthly", D(2024, 2, 29), (D(2024, 2, 1), D(2024, 2, 29)), (D(2024, 1, 1), D(2024, 1, 31))),
    ("quarterly", D(2026, 3, 31), (D(2026, 1, 1), D(2026, 3, 31)), (D(2025, 10, 1), D(2025, 12, 31))),
    ("quarterly", D(2026, 5, 31), (D(2026, 3, 1), D(2026, 5, 31)), (D(2025, 12, 1), D(2026, 2, 28))),
])
def test_trailing_windows(cadence, as_of, current, previous):
    assert current_and_previous(cadence, as_of) == (Period(*current), Period(*previous))


def test_period_instants_are_utc_half_open():
    p = Period(D(2026, 3, 25), D(2026, 3, 31))
    assert p.start_ts == datetime(2026, 3, 25, tzinfo=UTC)
    assert p.end_ts == datetime(2026, 4, 1, tzinfo=UTC)
    assert p.days == 7


def test_default_as_of_is_yesterday_utc():
    assert default_as_of(datetime(2026, 1, 1, 0, 30, tzinfo=UTC)) == D(2025, 12, 31)
