"""What the delivery connectors share beyond `engmetrics.incidents.connectors.common` (which they reuse
for pages, refusals, HTTP and loading): the conversion context, its result, environment and service names,
and the deployment flags a vendor does not record.

Environments: a vendor environment name is stored lower-cased, so several production environments
(`prod-eu`, `prod-us`) stay apart; which ones count as production is `settings.delivery.production_environments`
(compared case-insensitively by the metrics).

Services: changes and deployments of a repository get the same `service` (`Context.service_of`): `--service`,
else the repository's last path part (`acme/shop` -> `shop`, GitLab `acme/platform/api` -> `api`), so the
commit-range rule of `engmetrics.delivery.change_links` can pair them.

Deployment flags a vendor does not record, set by the connectors:

- `is_hotfix` (`is_hotfix_ref`): the deployment's `ref` (branch or tag) matches one of
  `settings.delivery.hotfix_patterns` (globs as in `bots`: `*`, `?`, case-insensitive, whole ref).
- `is_rollback` (`flag_deployments`, over every deployment row of one conversion): the deployment puts
  back an older version: its `commit_sha` was deployed successfully before to the same service and
  environment, and that sha's first successful deployment there came before the first successful
  deployment of the sha live just before it (the latest earlier successful deployment's). "Before" is
  ``(started_at, deployment_id)`` order. So redeploying the live sha is no rollback, and nor is going
  forward again to a newer sha after a rollback. Any status can be a rollback (a failed rollback attempt is
  one too). Only the deployments of the same ingest are seen: give every document of the history (a live
  pull reads them all); a deployment without a parseable `started_at` is no rollback.
- `fixes_incident_id` and `change_ids` are not in the vendors' deployment documents and stay empty.

>>> from engmetrics.settings import DeliverySettings
>>> context = Context(DeliverySettings(production_environments=["production", "prod-eu"]))
>>> environment("Prod-EU", context), environment("Staging", context), environment(None, context)
('prod-eu', 'staging', None)
>>> context.service_of("acme/shop"), Context(service="checkout").service_of("acme/shop")
('shop', 'checkout')
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...incidents.connectors.common import Converted, parse_utc
from ...settings import DeliverySettings
from .bots import matches_glob

__all__ = ["Context", "Conversion", "earliest", "environment", "flag_deployments", "is_hotfix_ref"]


@dataclass(frozen=True)
class Context:
    """How to convert: the delivery settings (bots, production environments), the repository
    (`owner/name`, GitLab `group/project`) when the documents do not name it, the service of
    changes and deployments (default: the repository's last path part), and the live page size."""

    settings: DeliverySettings = field(default_factory=DeliverySettings)
    repo: str | None = None
    service: str | None = None
    page_size: int = 100

    def service_of(self, repo: str) -> str:
        """The `service` of the changes and deployments of `repo` (see the module docstring)."""
        return self.service or repo.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class Conversion:
    """The rows to load (one `Converted` per document) and how many bot items were left out."""

    converted: list[Converted] = field(default_factory=list)
    skipped_bots: int = 0


def environment(name: Any, context: Context) -> Any:
    """The stored environment for a vendor environment `name` (see the module docstring)."""
    if not isinstance(name, str) or not name.strip():
        return None
    return name.strip().lower()


def earliest(values: Iterable[Any]) -> datetime | None:
    """The earliest of ISO-8601 texts with offsets (unreadable ones ignored); None when there is none."""
    times = [t for t in (parse_utc(v) for v in values) if t is not None]
    return min(times) if times else None


def is_hotfix_ref(ref: Any, context: Context) -> bool:
    """Whether a deployment's `ref` matches `settings.delivery.hotfix_patterns`."""
    return isinstance(ref, str) and matches_glob(ref, context.settings.hotfix_patterns)


def flag_deployments(conversion: Conversion) -> Conversion:
    """Set `is_rollback` on every deployment row of `conversion` (see the module docstring); returns it."""
    rows = [r for c in conversion.converted for r in c.rows if isinstance(r, dict)]
    timed = []
    for row in rows:
        row["is_rollback"] = False
        started = parse_utc(row.get("started_at"))
        if started is not None:
            timed.append((started, str(row.get("deployment_id") or ""), row))
    first_success: dict[tuple[Any, Any], dict[str, int]] = defaultdict(dict)  # place -> sha -> order
    live: dict[tuple[Any, Any], str] = {}
    for order, (_, _, row) in enumerate(sorted(timed, key=lambda t: t[:2])):
        place, sha = (row.get("service"), row.get("environment")), row.get("commit_sha")
        seen, current = first_success[place], live.get(place)
        if not isinstance(sha, str) or not sha:
            continue
        row["is_rollback"] = current is not None and sha in seen and seen[sha] < seen[current]
        if row.get("status") == "success":
            seen.setdefault(sha, order)
            live[place] = sha
    return conversion
