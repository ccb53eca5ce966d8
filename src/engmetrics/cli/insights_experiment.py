"""`engmetrics insights experiment analyze|design`: experiments on process changes (a thin shell over
`engmetrics.insights.experiments`; methods and JSON fields are documented in docs/experiments.md)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from ..catalog.loader import load_catalog
from ..catalog.periods import Period, default_as_of
from ..charts import format_value
from ..errors import InputError
from .common import JsonOption, console, emit_json, open_store, state
from .insights import app as insights_app

__all__ = ["analyze_command", "app", "design_command"]

app = typer.Typer(no_args_is_help=True, help="Experiments on process changes: analyse a spec, design one.")
insights_app.add_typer(app, name="experiment")

BEFORE_DAYS = 56


def _fmt(value: float | None) -> str:
    return "-" if value is None else format_value(value)


@app.command("analyze")
def analyze_command(
    spec: Annotated[Path, typer.Argument(help=(
        "Experiment spec (YAML), e.g. experiments/checklist.yaml (relative: to the current directory, else to "
        "the workspace)."))],
    as_json: JsonOption = False,
) -> None:
    """Analyse an experiment: effect with its interval and p-value, sample-ratio-mismatch check, smallest
    detectable effect, and a one-line verdict. The method follows the spec (`method: auto` picks Welch +
    permutation + CUPED, difference-in-differences or an interrupted time series from the design).

    Example: engmetrics insights experiment analyze experiments/review-checklist.yaml --json
    """
    from ..insights.experiments import analyze, load_spec  # here: they load scipy, which other commands skip

    root = state.settings.workspace
    path = spec if spec.is_absolute() or spec.exists() else root / spec  # relative: to here, else the workspace
    source = load_spec(path.resolve(), root)
    catalog = load_catalog(root)
    with open_store(read_only=True) as store:
        result = analyze(store, catalog, source)
    data = result.to_dict()
    if as_json:
        emit_json(data)
        return
    table = Table("", "value", title=f"Experiment {escape(data['experiment'])} on {escape(data['metric'])}")
    low, high = data["interval"]
    rows = [
        ("method", data["method"]),
        ("units", f"{data['units']['treated']} treated, {data['units']['control']} control ({data['unit']})"),
        ("effect", _fmt(data["effect"])),
        (f"{data['confidence']:.0%} interval", f"{_fmt(low)} to {_fmt(high)}"),
        ("p-value", _fmt(data["p_value"])),
        ("sample ratio", "mismatch" if data["srm"]["mismatch"] else
         ("ok" if data["srm"]["p_value"] is not None else "not checked")
         + (f" (p = {_fmt(data['srm']['p_value'])})" if data["srm"]["p_value"] is not None else "")),
        ("smallest detectable effect", f"{_fmt(data['power']['smallest_detectable_effect'])} "
                                       f"(power {data['power']['power']:.0%})"),
    ]
    for key, value in rows:
        table.add_row(key, escape(str(value)))
    console.print(table)
    for note in data["notes"]:
        console.print(f"note: {escape(note)}", style="yellow", highlight=False)
    console.print(escape(data["verdict"]), highlight=False)


@app.command("design")
def design_command(
    metric: Annotated[str, typer.Option("--metric", help="Indicator id (a declarative calculation).")],
    unit: Annotated[Literal["team", "service"], typer.Option("--unit", help="Randomise teams or services.")],
    strata: Annotated[str | None, typer.Option("--strata", help=(
        "Column of the teams / services dataset to stratify by, e.g. parent or tier."))] = None,
    ratio: Annotated[float, typer.Option("--ratio", help="Share of units to treat.")] = 0.5,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level of the later test.")] = 0.05,
    power: Annotated[float, typer.Option("--power", help="Wanted probability of detecting the effect.")] = 0.8,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the randomisation (same seed, same split).")] = 7,
    grain: Annotated[Literal["day", "week"], typer.Option("--grain", help="Time buckets of the metric.")] = "week",
    before_from: Annotated[datetime | None, typer.Option("--before-from", formats=["%Y-%m-%d"], help=(
        f"First day of the period that measures the noise (default: {BEFORE_DAYS} days before --before-to)."))] = None,
    before_to: Annotated[datetime | None, typer.Option("--before-to", formats=["%Y-%m-%d"], help=(
        "Last day of that period (default: yesterday, UTC)."))] = None,
    write: Annotated[Path | None, typer.Option("--write", help=(
        "Write an analysis spec (YAML) for this assignment, e.g. experiments/checklist.yaml (a relative path is "
        "in the workspace)."))] = None,
    as_json: JsonOption = False,
) -> None:
    """Power calculation (smallest detectable effect for the available units, from the metric's between-unit
    spread in the before period) and a stratified, seeded randomisation of the units. With --grain week the
    before period is narrowed to the whole weeks (Monday to Sunday) inside it.

    Example: engmetrics insights experiment design --metric change_lead_time_p50 --unit team --write x.yaml
    """
    end = before_to.date() if before_to else default_as_of()
    start = before_from.date() if before_from else end - timedelta(days=BEFORE_DAYS - 1)
    if start > end:
        raise InputError(f"--before-from ({start}) is after --before-to ({end})")
    if not 0 < alpha < 0.5 or not 0 < power < 1:
        raise InputError("--alpha must lie in (0, 0.5) and --power in (0, 1)")
    from ..insights.experiments import design  # here: it loads scipy, which other commands skip

    catalog = load_catalog(state.settings.workspace)
    with open_store(read_only=True) as store:
        result = design(store, catalog, metric, unit, Period(start, end), grain=grain, strata=strata, ratio=ratio,
                        alpha=alpha, power=power, seed=seed)
    data = result.to_dict()
    if write is not None:
        write = write if write.is_absolute() else state.settings.workspace / write  # where analyze and the API read
        spec = result.to_spec(write.name.rsplit(".", 1)[0])
        write.parent.mkdir(parents=True, exist_ok=True)
        write.write_text("# Written by `engmetrics insights experiment design`; check the after period.\n"
                         + yaml.safe_dump(spec, sort_keys=False))
        data["written"] = str(write)
    if as_json:
        emit_json(data)
        return
    table = Table(unit, "stratum", f"before mean ({escape(metric)})", "arm", title="Assignment")
    for row in data["units"]:
        table.add_row(escape(row["unit"]), escape(row["stratum"]), _fmt(row["before_mean"]), row["arm"])
    console.print(table)
    console.print(f"{len(result.treated)} treated, {len(result.control)} control; between-unit sd {_fmt(result.sd)}; "
                  f"smallest detectable effect {_fmt(result.smallest_detectable_effect)} at alpha {alpha} and "
                  f"power {power:.0%}.", highlight=False)
    if write is not None:
        console.print(f"wrote {escape(str(write))}", highlight=False)
