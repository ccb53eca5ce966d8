"""Telemetry collection (issue 10): sampling with weighted estimates, clock checks, and (later) scraping,
receivers and retention."""
