"""Delivery and team metrics: DORA, cycle time and review latency in working hours, guardrails, knowledge
silos, peer feedback with care (see docs/delivery.md)."""
