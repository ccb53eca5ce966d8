"""Telemetry collection (issue 10): pull (scrape, Prometheus HTTP API import), push (remote-write and OTLP
receivers), sampling with weighted estimates, clock checks, retention and rollups."""
