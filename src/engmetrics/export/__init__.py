"""Exports for tools people already run: Grafana dashboard JSON for the `/metrics` gauges.

>>> from engmetrics.catalog.loader import Catalog
>>> grafana_dashboard(Catalog())["uid"]
'engmetrics-overview'
"""

from .grafana import grafana_dashboard

__all__ = ["grafana_dashboard"]
