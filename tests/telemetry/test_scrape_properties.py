"""Properties of scraping: whatever labels and values a prometheus_client registry exposes, in either format, the
batch holds exactly those values and labels plus the target's (prometheus_client's own encoder writes the text)."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST as TEXT
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from engmetrics.telemetry.batch import series_key
from engmetrics.telemetry.scrape import parse_exposition, samples_batch

label_values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
values = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-9)
TARGET = {"job": "app", "instance": "127.0.0.1:9100"}


@settings(max_examples=60, deadline=None)
@given(gauges=st.dictionaries(st.tuples(label_values, label_values), values, min_size=1, max_size=6),
       total=st.floats(min_value=0, max_value=1e9, allow_nan=False), openmetrics=st.booleans())
def test_exposed_values_and_labels_arrive_unchanged(gauges, total, openmetrics):
    registry = CollectorRegistry()
    gauge = Gauge("temperature", "t", ["room", "job"], registry=registry)  # `job` clashes with the target's
    for (room, job), value in gauges.items():
        gauge.labels(room, job).set(value)
    Counter("served", "s", registry=registry).inc(total)
    body = (generate_openmetrics if openmetrics else generate_latest)(registry).decode()
    batch = samples_batch(parse_exposition(body, OPENMETRICS if openmetrics else TEXT), TARGET, 5_000_000)
    rows = [r for r in batch.to_pylist() if not r["metric"].endswith("_created")]
    expected = {series_key("temperature", {"room": room, "exported_job": job, **TARGET}): value
                for (room, job), value in gauges.items()}
    expected[series_key("served_total", TARGET)] = total
    got = {r["series"]: r["value"] for r in rows}
    assert got.keys() == expected.keys()
    assert all(math.isclose(got[k], v, rel_tol=1e-15) for k, v in expected.items())  # repr round trip
    for row in rows:
        labels = json.loads(row["labels"])
        assert {k: labels[k] for k in TARGET} == TARGET and row["series"] == series_key(row["metric"], labels)
    assert {r["ts"].timestamp() for r in rows} == {5.0}  # no exposed timestamps: the scrape's time
