"""Governance: audit chain, definition archive, review board, privacy guardrails, impact assessments,
legal holds, discrepancies and the published catalog (issue 8)."""
