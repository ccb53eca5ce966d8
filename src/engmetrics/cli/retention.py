"""`engmetrics retention plan | apply`: a thin shell over `engmetrics.telemetry.retention` (see docs/retention.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import EngmetricsError
from ..governance.identity import actor
from ..telemetry.retention import RetentionReport, run_retention
from ..telemetry.retention_policy import load_retention_policy
from .common import JsonOption, console, emit_json, fail, open_store, state

__all__ = ["app", "apply_command", "plan_command"]

app = typer.Typer(no_args_is_help=True, help="Retention and downsampling: plan, then apply.")

AsOfOption = Annotated[datetime | None, typer.Option(
    "--as-of", formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
    help="The instant retention ages are measured from (UTC unless an offset is given; default: now).")]


def _stamp(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "-"


def _show(report: RetentionReport) -> None:
    verb = "applied" if report.applied else "plan (nothing changed)"
    console.print(f"retention {verb} as of {report.as_of.isoformat()}")
    table = Table("dataset", "tier", "action", "before", "rows", "from", "to", "buckets", "kept by holds")
    for run in report.datasets:
        for s in run.steps:
            held = ", ".join(f"{b.hold_id} ({b.rows} rows: {escape(b.reason)})" for b in s.blocked if b.rows)
            action = f"rollup -> {s.into}" if s.action == "rollup" else "delete"
            table.add_row(run.dataset, s.tier, action, s.before.isoformat(), str(s.rows), _stamp(s.first_ts),
                          _stamp(s.last_ts), str(s.buckets), held or "-")
    console.print(table)
    storage = Table("dataset", "rows before", "rows after", "bytes before", "bytes after", "cost/month before",
                    "cost/month after")
    for run in report.datasets:
        b, a = run.before, run.after
        storage.add_row(run.dataset, str(b.rows), str(a.rows), str(b.bytes), str(a.bytes),
                        f"{b.cost_per_month:.6g}", f"{a.cost_per_month:.6g}")
    console.print(storage)
    for run in report.datasets:
        if run.horizon is not None:
            console.print(f"{run.dataset}: retention horizon {run.horizon.isoformat()} (ingest refuses older rows)")


def _run(as_of: datetime | None, apply: bool, as_json: bool) -> None:
    try:
        policy = load_retention_policy(state.settings.workspace)
        with open_store() as store:
            report = run_retention(store, policy, as_of, apply=apply, actor=actor(None))
    except EngmetricsError as exc:
        raise fail(exc) from exc
    if as_json:
        emit_json(report.to_dict())
    else:
        _show(report)


@app.command("plan")
def plan_command(as_of: AsOfOption = None, as_json: JsonOption = False) -> None:
    """Dry run: what `retention apply` would roll up and delete, and storage before and after.

    Per dataset of policies/retention.yaml and tier: the rows that would be rolled up or deleted (and their
    time range), the legal holds that keep rows, and storage (rows, estimated bytes, cost per month) before
    and after, and the retention horizon the dataset would have (ingest refuses rows dated before it).
    Changes nothing (the work is done in a transaction that is rolled back).

    Example: engmetrics retention plan --as-of 2026-06-01 --json
    """
    _run(as_of, False, as_json)


@app.command("apply")
def apply_command(as_of: AsOfOption = None, as_json: JsonOption = False) -> None:
    """Roll up and delete as policies/retention.yaml says (see `retention plan`).

    One transaction per dataset, with a `retention.apply` audit entry; legal holds keep what they cover. A
    dataset that changed gets its retention horizon raised to the raw cutoff: from then on every ingest path
    quarantines rows dated before it (a resend would otherwise be counted twice). Running it again at the
    same --as-of changes nothing.

    Example: engmetrics retention apply --as-of 2026-06-01
    """
    _run(as_of, True, as_json)
