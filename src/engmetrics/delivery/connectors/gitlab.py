"""GitLab REST merge requests and deployments -> `changes`, `deployments`.

Documents read (recorded files or live pages; every document given is of the dataset's one call):

- `changes`: `GET /projects/:id/merge_requests?state=all&scope=all` pages (a JSON list);
- `deployments`: `GET /projects/:id/deployments` pages (a JSON list).

The project (`group/project`) is a merge request's `references.full` before its `!`, else `--repo`.

`changes`, one row per merge request: `change_id` = `gitlab:{group/project}!{iid}`; `service` = `--service`
or the project name (the deployments' mapping, `common.Context.service_of`); `author` = `author.username`,
`is_bot` when it matches `delivery.bots`; `is_draft` = `draft` (older GitLab: `work_in_progress`);
`created_at`, `merged_at`, `closed_at`;
`merge_commit_sha` = `merge_commit_sha`, else `squash_commit_sha` (a squash merged without a merge
commit), else, when merged, `sha` (a fast-forward merge puts the head itself on the target branch);
empty when not merged. Not in this call, so empty: `first_commit_at`, `ready_at` (GitLab has no
ready-for-review time here), `first_review_at`, `approved_at`, `additions`, `deletions`.

`deployments`, one row per deployment (bots do not apply): `deployment_id` =
`gitlab:{group/project}/deployments/{id}`, `commit_sha` = `sha`, `environment` = `environment.name` (see
`common.environment`), `service` = `--service` or the project name, `started_at` = `created_at`,
`finished_at`, `status`: success -> success, failed -> failure, canceled -> cancelled, running, created
or blocked (waiting for approval) -> in_progress (with `finished_at` empty); another status (e.g. skipped)
is quarantined with the reason. `is_hotfix` when `ref` matches `delivery.hotfix_patterns`, `is_rollback`
by the rule in `common` (over all the deployments given); `change_ids` and `fixes_incident_id` stay empty.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from ...errors import InputError
from ...incidents.connectors.common import Converted, Page, get_json, refuse, utc
from ...incidents.connectors.github import next_link
from .bots import is_bot
from .common import Context, Conversion, environment, flag_deployments, is_hotfix_ref

__all__ = ["DATASETS", "DEFAULT_URL", "convert", "fetch"]

DATASETS = ("changes", "deployments")
DEFAULT_URL = "https://gitlab.com/api/v4"
_STATUS = {"success": "success", "failed": "failure", "canceled": "cancelled", "running": "in_progress",
           "created": "in_progress", "blocked": "in_progress"}


def _project(reference: Any, context: Context, source: str) -> str:
    project = reference.rsplit("!", 1)[0] if isinstance(reference, str) and "!" in reference else context.repo
    if not project:
        raise InputError("the documents do not name the project: pass --repo group/project", file=source)
    return project


def _change(mr: dict, context: Context, source: str) -> dict:
    references = mr.get("references") if isinstance(mr.get("references"), dict) else {}
    project, iid = _project(references.get("full"), context, source), mr.get("iid")
    author = mr.get("author", {}).get("username") if isinstance(mr.get("author"), dict) else None
    merged = utc(mr.get("merged_at"))
    sha = mr.get("merge_commit_sha") or mr.get("squash_commit_sha") or mr.get("sha")
    draft = mr.get("draft") if "draft" in mr else mr.get("work_in_progress")
    return {"change_id": f"gitlab:{project}!{iid}" if iid is not None else None, "repo": project,
            "service": context.service_of(project), "author": author, "is_bot": is_bot(author, context.settings.bots),
            "is_draft": draft is True,
            "created_at": utc(mr.get("created_at")), "merged_at": merged, "closed_at": utc(mr.get("closed_at")),
            "merge_commit_sha": sha if merged else None}


def _deployment(item: dict, context: Context, source: str) -> dict:
    project = _project(None, context, source)
    env = item.get("environment")
    state = item.get("status")
    status = _STATUS.get(str(state)) or refuse(f"unknown or not-run deployment status {state!r}")
    return {"deployment_id": f"gitlab:{project}/deployments/{item.get('id')}" if item.get("id") is not None else None,
            "service": context.service_of(project),
            "environment": environment(env.get("name") if isinstance(env, dict) else None, context),
            "started_at": utc(item.get("created_at")),
            "finished_at": utc(item.get("finished_at")) if status in ("success", "failure", "cancelled") else None,
            "status": status, "commit_sha": item.get("sha"), "is_hotfix": is_hotfix_ref(item.get("ref"), context)}


def convert(pages: Sequence[Page], dataset: str, context: Context) -> Conversion:
    """The `dataset` rows of the GitLab documents `pages` (see the module docstring)."""
    row = _change if dataset == "changes" else _deployment
    converted = []
    for page in pages:
        if not isinstance(page.body, list):
            raise InputError(f"expected a GitLab {dataset} page (a JSON list)", file=page.source)
        converted.append(Converted(page.source, [row(i, context, page.source) if isinstance(i, dict) else i
                                                 for i in page.body]))
    return flag_deployments(Conversion(converted)) if dataset == "deployments" else Conversion(converted)


def fetch(token: str, url: str, dataset: str, context: Context) -> list[Page]:
    """Every merge request or deployment of the project `--repo`, following the `Link` headers."""
    if not context.repo or not re.fullmatch(r"[^\s]+/[^\s]+|\d+", context.repo):
        raise InputError("--repo group/project (or the numeric project id) is required to pull from GitLab")
    call = "merge_requests?state=all&scope=all&" if dataset == "changes" else "deployments?"
    next_url: str | None = (f"{url.rstrip('/')}/projects/{quote(context.repo, safe='')}/{call}"
                            f"per_page={min(context.page_size, 100)}")
    pages = []
    while next_url:
        body, headers = get_json(next_url, {"PRIVATE-TOKEN": token})
        pages.append(Page(next_url, body))
        next_url = next_link(headers.get("Link"))
    return pages
