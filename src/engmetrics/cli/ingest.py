"""`engmetrics ingest DATASET FILE...`, `--from VENDOR` for recorded or live vendor API JSON, and
`engmetrics ingest git PATH` for the `commit_files` of a local git repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..cost.aws_cur import ingest_cur
from ..delivery.connectors import DATASETS as DELIVERY_DATASETS
from ..delivery.connectors import Context, DeliveryResult, ingest_delivery, ingest_git
from ..delivery.connectors import connector_for as delivery_connector
from ..errors import InputError
from ..incidents.connectors import CONNECTORS, Options, connector_for, ingest_vendor
from ..ingest import FORMATS, IngestResult, ingest_files
from ..ingest.keys import ingest_key
from ..store import REGISTRY, Store
from ..telemetry.clocks import ingest_rules
from .common import JsonOption, console, emit_json, open_store, state, stderr

AWS_CUR = "aws-cur"


def _timestamp_names(pairs: list[str]) -> dict[str, str]:
    names = {}
    for pair in pairs:
        column, sep, name = pair.partition("=")
        if not sep or not column.strip() or not name.strip():
            raise InputError(f"--timestamp expects COLUMN=NAME (e.g. mitigated_at=Fixed), got {pair!r}")
        names[column.strip()] = name.strip()
    return names


def _from_vendor(store: Store, key: bytes, dataset: str, vendor: str, files: list[Path], strict: bool,
                 assume_tz: str | None, token: str | None, url: str | None, options: Options) -> IngestResult:
    connector = connector_for(vendor, dataset)
    return ingest_vendor(store, connector, state.settings.incidents, files=files, token=token, url=url,
                         options=options, pseudonym_key=key, strict=strict, assume_tz=assume_tz)


def _delivery(store: Store, key: bytes, dataset: str, vendor: str | None, files: list[Path], strict: bool,
              assume_tz: str | None, token: str | None, url: str | None, context: Context) -> DeliveryResult:
    """`ingest git PATH` (commit_files), or `--from github|gitlab` for changes, reviews, deployments."""
    if dataset == "git":
        if vendor or token or url or assume_tz or context.service or len(files) != 1:
            raise InputError("usage: engmetrics ingest git PATH [--repo NAME] (git takes no other option)")
        return ingest_git(store, files[0], context, pseudonym_key=key, strict=strict)
    connector = delivery_connector(vendor or "", dataset)
    return ingest_delivery(store, connector, dataset, context, files=files, token=token, url=url, pseudonym_key=key,
                           strict=strict, assume_tz=assume_tz)


def ingest(
    dataset: Annotated[str, typer.Argument(help="Dataset to load (see `engmetrics datasets list`).")],
    files: Annotated[list[Path] | None, typer.Argument(
        help="CSV, JSON Lines or Parquet files, optionally .gz; with --from, the vendor's recorded JSON.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help=f"One of {', '.join(FORMATS)} (default: by suffix).")
                   ] = None,
    assume_tz: Annotated[str | None, typer.Option(
        "--assume-tz", help="IANA zone for timestamps without an offset (DST gaps/overlaps are refused).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail the whole batch if any row is invalid.")] = False,
    vendor: Annotated[str | None, typer.Option(
        "--from", help=f"Read a vendor API's JSON: {', '.join(CONNECTORS)} (opsgenie fills alerts); for "
        f"{', '.join(DELIVERY_DATASETS)}: github, gitlab (gitlab: changes, deployments); for cost: {AWS_CUR} "
        "(an AWS CUR 2.0 export, CSV or Parquet, mapped to FOCUS).")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", help="With --from: pull live from the vendor API with this token instead of FILEs.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="With --token: API base URL (default: the vendor's).")
                   ] = None,
    repo: Annotated[str | None, typer.Option(
        "--repo", help="--from github: the repository, owner/name; gitlab: group/project; git: the repo name, "
        "e.g. the GitHub owner/name so path scoping matches the changes (default: the directory's name).")] = None,
    service: Annotated[str | None, typer.Option(
        "--service", help="--from github/gitlab: the service of changes and deployments "
        "(default for both: the repository's last path part, acme/shop -> shop).")] = None,
    label: Annotated[str, typer.Option("--label", help="--from github: the label marking incidents.")] = "incident",
    timestamp: Annotated[list[str] | None, typer.Option(
        "--timestamp", help="--from incidentio: COLUMN=NAME, the incident.io timestamp filling a column "
        "(repeatable; e.g. mitigated_at=Fixed).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Validate and load files into a dataset; invalid rows go to the quarantine.

    Example: engmetrics ingest deployments deploys.csv.gz --assume-tz Europe/Berlin

    Vendor files: engmetrics ingest incidents --from pagerduty export.json

    Live pull: engmetrics ingest incidents --from github --token TOKEN --repo acme/ops

    Delivery: engmetrics ingest changes --from github pulls.json pulls-12.json ...; engmetrics ingest git ../shop

    AWS bills: engmetrics ingest cost --from aws-cur cur2-2025-03.parquet
    """
    files = files or []
    if vendor == AWS_CUR:
        _cost_command(dataset, files, fmt, strict, assume_tz, (token, url, repo, service, timestamp), json_out)
        return
    if dataset == "git" or (vendor is not None and dataset in DELIVERY_DATASETS):
        _delivery_command(dataset, vendor, files, strict, assume_tz, token, url, fmt,
                          Context(state.settings.delivery, repo=repo, service=service), json_out)
        return
    if service:
        raise InputError("--service applies to --from github/gitlab (changes, deployments)")
    if vendor is None and (token or url or repo or timestamp):
        raise InputError("--token, --url, --repo and --timestamp need --from VENDOR")
    if vendor is None and not files:
        raise InputError("give at least one FILE (or --from VENDOR --token TOKEN for a live pull)")
    if vendor is not None and fmt:
        raise InputError("--format does not apply to --from (vendor files are the vendor's JSON)")
    rules = ingest_rules(dataset, state.settings.telemetry.clocks)  # skew quarantine for telemetry_samples
    with open_store() as store:
        key = ingest_key(store, state.settings.pseudonym_key_file)  # type: ignore[arg-type]
        if vendor is not None:
            options = Options(repo=repo, label=label, timestamp_names=_timestamp_names(timestamp or []))
            result = _from_vendor(store, key, dataset, vendor, files, strict, assume_tz, token, url, options)
        elif json_out or not console.is_terminal:
            result = ingest_files(store, dataset, files, fmt=fmt, assume_tz=assume_tz, strict=strict,
                                  pseudonym_key=key, bots=state.settings.delivery.bots, rules=rules)
        else:
            with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                          console=stderr, transient=True) as bar:
                task = bar.add_task("ingest", total=None)  # the engine's first report gives the steps

                def report(what: str, step: int, steps: int) -> None:
                    bar.update(task, description=what, completed=step, total=steps)

                result = ingest_files(store, dataset, files, fmt=fmt, assume_tz=assume_tz, strict=strict,
                                      pseudonym_key=key, progress=report, bots=state.settings.delivery.bots,
                                      rules=rules)
    _report(result, dataset, json_out)


def _cost_command(dataset: str, files: list[Path], fmt: str | None, strict: bool, assume_tz: str | None,
                  others: tuple[object, ...], json_out: bool) -> None:
    """`ingest cost --from aws-cur FILE...`: CUR 2.0 mapped to FOCUS, then the normal ingestion."""
    if dataset != "cost":
        raise InputError(f"--from {AWS_CUR} fills dataset cost, not {dataset}")
    if fmt or assume_tz or any(others):
        raise InputError(f"--from {AWS_CUR} takes the CUR files and --strict only (CUR times are UTC)")
    with open_store() as store:
        key = ingest_key(store, state.settings.pseudonym_key_file)  # type: ignore[arg-type]
        result = ingest_cur(store, files, strict=strict, pseudonym_key=key)
    _report(result, dataset, json_out)
    if not json_out:  # the accounting counts FOCUS rows; say what they came from
        console.print(f"from {result.cur_rows:,} CUR rows + {result.derived_rows:,} unused-commitment rows")


def _delivery_command(dataset: str, vendor: str | None, files: list[Path], strict: bool, assume_tz: str | None,
                      token: str | None, url: str | None, fmt: str | None, context: Context, json_out: bool) -> None:
    if fmt:
        raise InputError("--format does not apply to --from or git")
    with open_store() as store:
        key = ingest_key(store, state.settings.pseudonym_key_file)  # type: ignore[arg-type]
        result = _delivery(store, key, dataset, vendor, files, strict, assume_tz, token, url, context)
    _report(result, result.dataset, json_out)
    if result.skipped_bots and not json_out:
        console.print(f"left out {result.skipped_bots:,} bot items (delivery.bots)")


def _report(result: IngestResult, dataset: str, json_out: bool) -> None:
    if json_out:
        emit_json(result.as_dict())
        return
    for path, columns in result.ignored_columns.items():
        stderr.print(f"note: {path}: ignored columns not in {dataset}: {', '.join(columns)}", markup=False)
    console.print(
        f"{result.dataset}: read {result.read:,} = inserted {result.inserted:,} + updated {result.updated:,} "
        f"+ unchanged {result.unchanged:,} + quarantined {result.quarantined:,}")
    if result.replaced is not None:
        partition = ", ".join(REGISTRY[result.dataset].replace_partitions)
        console.print(f"replaced {result.replaced:,} stored rows (same {partition} as this batch, but not in it)",
                      markup=False)
    if result.quarantined:
        console.print(f"See them with: engmetrics quarantine list {dataset}")
