"""Incidents, alerts, on-call and postmortems: vendor connectors, lifecycle durations with intervals,
alert fatigue in the responder's own hours, recurring patterns, correlation with deploys and metric
shifts, and a searchable archive that respects confidentiality (see docs/incidents.md)."""
