"""Filled by the telemetry work in progress: push receivers (remote-write under /api/v1, OTLP at the root)."""

from fastapi import APIRouter

router = APIRouter()
otlp_router = APIRouter()
