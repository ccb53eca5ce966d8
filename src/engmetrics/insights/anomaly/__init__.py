"""Anomaly detectors on a regular series (numpy arrays, no store): robust seasonal decomposition
(`decompose`), seasonal hybrid ESD (`esd`), level shifts (`changepoints`), a count model for sparse series
(`counts`), and the findings they add up to (`findings`). `engmetrics.insights.scan` runs them on the
store's series."""

from .findings import Detection, Finding, detect, family, findings_of

__all__ = ["Detection", "Finding", "detect", "family", "findings_of"]
