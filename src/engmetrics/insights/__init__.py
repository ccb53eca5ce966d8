"""Continuous improvement (seed module 7): anomaly detection, experiments on process changes, CSAT against
backend health, metric reviews and the decision log.

Engine-side aggregation is Ibis (portable); the statistics run in Python on the small aggregated series.
"""
