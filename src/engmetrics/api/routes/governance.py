"""Governance routes under `/api/v1/governance`: one router, filled by the `governance_*` modules imported
at the bottom (audit, review board, archive and holds, discrepancies)."""

from fastapi import APIRouter

router = APIRouter(prefix="/governance", tags=["governance"])

from . import governance_archive, governance_audit, governance_board, governance_discrepancies  # noqa: E402,F401
