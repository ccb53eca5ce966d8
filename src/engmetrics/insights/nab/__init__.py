"""The Numenta Anomaly Benchmark: read the corpus (`corpus`), score detections as NAB does (`scorer`), and
the causal detector measured against it (`detector`). `benchmarks/nab.py` runs them; docs/nab.md has the
figures.

No Ibis here, so no PySpark portability test: the benchmark reads NAB's CSV files in place (never the
store), one small series at a time, and all of it is statistics on in-memory arrays.
"""
