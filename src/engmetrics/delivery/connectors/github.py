"""GitHub REST pull requests, reviews and deployments -> `changes`, `reviews`, `deployments`.

Documents (recorded files or live pages) are told apart by the API call they answer: a live page by its
URL, a recorded file by its name, which follows the call's path with `-` for `/` (`.pageN` may follow):

| document | API call | file name |
| --- | --- | --- |
| pull list | `GET /repos/{o}/{r}/pulls?state=all` | `pulls.json` |
| pull detail | `GET /repos/{o}/{r}/pulls/{n}` | `pulls-12.json` |
| commits | `GET /repos/{o}/{r}/pulls/{n}/commits` | `pulls-12-commits.json` |
| reviews | `GET /repos/{o}/{r}/pulls/{n}/reviews` | `pulls-12-reviews.json` |
| timeline | `GET /repos/{o}/{r}/issues/{n}/timeline` | `issues-12-timeline.json` |
| deployments | `GET /repos/{o}/{r}/deployments` | `deployments.json` |
| statuses | `GET /repos/{o}/{r}/deployments/{id}/statuses` | `deployments-7-statuses.json` |

A dataset reads the documents it needs and ignores the other kinds; the documents of one call belong to
one repository. The repository is the pull's `base.repo.full_name` (a deployment's `repository_url`), else
the URL's, else `--repo`.

`changes`, one row per pull in the pull lists: `change_id` = `github:{owner}/{repo}#{number}`; `service` =
`--service` or the repository name (the deployments' mapping, `common.Context.service_of`); `author` =
`user.login`, `is_bot` when it matches `delivery.bots`; `is_draft` = `draft` (a draft now is not waiting
for review); `created_at`, `merged_at`, `closed_at`;
`merge_commit_sha` only when merged (GitHub fills it with a test merge for open pulls; for a squash or
rebase merge it is the commit made on the base branch); `additions`, `deletions` from the detail
document (empty without one); `first_commit_at` = the earliest `commit.author.date` of the commits
document (empty without one); `ready_at` from the timeline: the first `ready_for_review` event, or
`created_at` when the pull was opened ready (the first draft event is `convert_to_draft`, or there is
none and it is not a draft now); empty while a draft, or without a timeline; `first_review_at` and
`approved_at` = the earliest submitted review (any state) and the earliest `APPROVED` review by someone
other than the author and not a bot, from the reviews documents (empty without them).

`reviews`, one row per submitted review by a person (bot reviews are left out and counted): `reviewer` =
`user.login`, `submitted_at`, `state` lower-cased (approved, changes_requested, commented, dismissed);
a `PENDING` review (not submitted) or an unknown state is quarantined with the reason.

`deployments`, one row per deployment (bots do not apply: a deployment has no person column):
`deployment_id` = `github:{owner}/{repo}/deployments/{id}`, `commit_sha` = `sha`, `environment` (see
`common.environment`), `service` = `--service` or the repository name, `started_at` = `created_at`,
`is_hotfix` when `ref` matches `delivery.hotfix_patterns`, `is_rollback` by the rule in `common` (over all
the deployments given; `change_ids` and `fixes_incident_id` stay empty: GitHub does not record them). The
final status is the latest status by `created_at` other than `inactive` (GitHub's mark on a successful
deployment superseded by a later one): success -> success, failure or error -> failure (with
`finished_at` = its `created_at`), in_progress, queued or pending -> in_progress; no status yet ->
in_progress. A deployment without a statuses document is quarantined (its outcome is unknown).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from ...errors import InputError
from ...incidents.connectors.common import Converted, Page, get_json, parse_utc, refuse, utc
from ...incidents.connectors.github import next_link
from .bots import is_bot
from .common import Context, Conversion, earliest, environment, flag_deployments, is_hotfix_ref

__all__ = ["DATASETS", "DEFAULT_URL", "convert", "document_kind", "fetch"]

DATASETS = ("changes", "reviews", "deployments")
DEFAULT_URL = "https://api.github.com"
_API = re.compile(r"/repos/(?P<repo>[^/]+/[^/]+)/(?P<rest>[^?#]+)")
_KINDS = {("pulls",): "pulls", ("pulls", "#"): "pull", ("pulls", "#", "commits"): "commits",
          ("pulls", "#", "reviews"): "reviews", ("issues", "#", "timeline"): "timeline",
          ("deployments",): "deployments", ("deployments", "#", "statuses"): "statuses"}
_REVIEW_STATES = {"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"}
_DEPLOY_STATES = {"success": "success", "failure": "failure", "error": "failure", "in_progress": "in_progress",
                  "queued": "in_progress", "pending": "in_progress"}
_PULL_URL = re.compile(r"/repos/(?P<repo>[^/]+/[^/]+)/pulls/(?P<number>\d+)")
_USED = {"changes": {"pulls", "pull", "commits", "reviews", "timeline"}, "reviews": {"reviews"},
         "deployments": {"deployments", "statuses"}}


@dataclass
class _Docs:
    """The documents of one conversion by kind; supplements keyed by pull number or deployment id."""

    lists: list[tuple[Page, str | None]] = field(default_factory=list)
    detail: dict[str, dict] = field(default_factory=dict)
    commits: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    reviews: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    timeline: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, list] = field(default_factory=lambda: defaultdict(list))


def document_kind(source: str) -> tuple[str, str | None, str | None]:
    """(kind, pull number or deployment id, repository) of a document, from its URL or file name.

    >>> document_kind("https://api.github.com/repos/acme/shop/pulls/12/reviews?page=2")
    ('reviews', '12', 'acme/shop')
    >>> document_kind("tests/fixtures/delivery/github/deployments.page2.json")
    ('deployments', None, None)
    """
    found = _API.search(source)
    repo = found["repo"] if found else None
    tokens = found["rest"].strip("/").split("/") if found else re.split(r"[-_]", Path(source).name.split(".")[0])
    shape = tuple("#" if t.isdigit() else t.lower() for t in tokens)
    kind = _KINDS.get(shape)
    if kind is None:
        raise InputError("cannot tell which GitHub API call this document answers: name recorded files after "
                         "it (pulls.json, pulls-12.json, pulls-12-commits.json, pulls-12-reviews.json, "
                         "issues-12-timeline.json, deployments.json, deployments-7-statuses.json)", file=source)
    number = next((t for t in tokens if t.isdigit()), None)
    return kind, number, repo


def _list(page: Page, what: str) -> list[Any]:
    if not isinstance(page.body, list):
        raise InputError(f"expected {what} (a JSON list)", file=page.source)
    return page.body


def _collect(pages: Sequence[Page], dataset: str) -> _Docs:
    docs = _Docs()
    for page in pages:
        kind, number, repo = document_kind(page.source)
        if kind not in _USED[dataset]:
            continue
        if kind == "pull":
            if not isinstance(page.body, dict):
                raise InputError("expected a pull request (a JSON object)", file=page.source)
            docs.detail[str(number)] = page.body
        elif kind in ("pulls", "deployments") or (kind == "reviews" and dataset == "reviews"):
            docs.lists.append((page, repo))
        else:
            getattr(docs, kind)[str(number)].extend(_list(page, f"a GitHub {kind} page"))
    return docs


def _login(item: Any) -> str | None:
    user = item.get("user") if isinstance(item, dict) else None
    return user.get("login") if isinstance(user, dict) else None


def _repo(found: str | None, fallback: str | None, context: Context, source: str) -> str:
    repo = found or fallback or context.repo
    if not repo:
        raise InputError("the documents do not name the repository: pass --repo owner/name", file=source)
    return repo


def _commit_date(item: Any) -> Any:
    commit = item.get("commit") if isinstance(item, dict) else None
    author = commit.get("author") if isinstance(commit, dict) else None
    return author.get("date") if isinstance(author, dict) else None


def _ready_at(pull: dict, events: list) -> str | None:
    drafting = [e for e in events if isinstance(e, dict) and e.get("event") in ("ready_for_review", "convert_to_draft")]
    if drafting and drafting[0].get("event") == "ready_for_review":
        return utc(drafting[0].get("created_at"))
    if (drafting or events) and not pull.get("draft"):
        return utc(pull.get("created_at"))
    return None


def _reviewed(pull: dict, reviews: list, context: Context) -> tuple[str | None, str | None]:
    author, bots = _login(pull), context.settings.bots
    people = [r for r in reviews if isinstance(r, dict) and r.get("state") in _REVIEW_STATES
              and _login(r) not in (None, author) and not is_bot(_login(r), bots)]
    first = earliest(r.get("submitted_at") for r in people)
    approved = earliest(r.get("submitted_at") for r in people if r.get("state") == "APPROVED")
    return (first.isoformat() if first else None), (approved.isoformat() if approved else None)


def _change(pull: dict, url_repo: str | None, docs: _Docs, context: Context, source: str) -> dict:
    base = pull.get("base") if isinstance(pull.get("base"), dict) else {}
    base_repo = base.get("repo") if isinstance(base.get("repo"), dict) else {}
    repo = _repo(base_repo.get("full_name"), url_repo, context, source)
    number, author = pull.get("number"), _login(pull)
    key, merged = str(number), utc(pull.get("merged_at"))
    detail = docs.detail.get(key, {})
    first_commit = earliest(_commit_date(c) for c in docs.commits.get(key, []))
    first_review, approved = _reviewed(pull, docs.reviews.get(key, []), context)
    return {
        "change_id": f"github:{repo}#{number}" if number is not None else None, "repo": repo,
        "service": context.service_of(repo), "author": author, "is_bot": is_bot(author, context.settings.bots),
        "is_draft": pull.get("draft") is True,
        "first_commit_at": first_commit.isoformat() if first_commit else None,
        "created_at": utc(pull.get("created_at")), "ready_at": _ready_at(pull, docs.timeline.get(key, [])),
        "first_review_at": first_review, "approved_at": approved, "merged_at": merged,
        "closed_at": utc(pull.get("closed_at")), "merge_commit_sha": pull.get("merge_commit_sha") if merged else None,
        "additions": detail.get("additions"), "deletions": detail.get("deletions"),
    }


def _review(review: dict, page: Page, url_repo: str | None, context: Context) -> dict:
    found = _PULL_URL.search(str(review.get("pull_request_url") or ""))
    number = found["number"] if found else document_kind(page.source)[1]
    repo = _repo(found["repo"] if found else None, url_repo, context, page.source)
    state = str(review.get("state") or "")
    return {"change_id": f"github:{repo}#{number}", "reviewer": _login(review),
            "submitted_at": utc(review.get("submitted_at")),
            "state": state.lower() if state in _REVIEW_STATES else refuse(
                "a pending review (not submitted)" if state == "PENDING" else f"unknown review state {state!r}")}


def _final(statuses: list) -> dict | None:
    timed = [(parse_utc(s.get("created_at")), -i, s) for i, s in enumerate(statuses)
             if isinstance(s, dict) and s.get("state") != "inactive" and parse_utc(s.get("created_at"))]
    return max(timed, key=lambda t: (t[0], t[1]))[2] if timed else None


def _deployment(item: dict, url_repo: str | None, docs: _Docs, context: Context, source: str) -> dict:
    found = re.search(r"/repos/([^/]+/[^/]+)/?$", str(item.get("repository_url") or ""))
    repo = _repo(found[1] if found else None, url_repo, context, source)
    key = str(item.get("id"))
    final = _final(docs.statuses[key]) if key in docs.statuses else None
    state = final.get("state") if final else ("in_progress" if key in docs.statuses else None)
    status = _DEPLOY_STATES.get(str(state)) or refuse(
        "no statuses document (GET /deployments/{id}/statuses) for this deployment" if state is None
        else f"unknown deployment state {state!r}")
    finished = utc(final.get("created_at")) if final and status in ("success", "failure") else None
    return {"deployment_id": f"github:{repo}/deployments/{item.get('id')}" if item.get("id") is not None else None,
            "service": context.service_of(repo), "environment": environment(item.get("environment"), context),
            "started_at": utc(item.get("created_at")), "finished_at": finished, "status": status,
            "commit_sha": item.get("sha"), "is_hotfix": is_hotfix_ref(item.get("ref"), context)}


def convert(pages: Sequence[Page], dataset: str, context: Context) -> Conversion:
    """The `dataset` rows of the GitHub documents `pages` (see the module docstring)."""
    docs, result = _collect(pages, dataset), Conversion()
    for page, url_repo in docs.lists:
        rows: list[Any] = []
        for item in _list(page, f"a GitHub {dataset} page"):
            if not isinstance(item, dict):
                rows.append(item)
            elif dataset == "changes":
                rows.append(_change(item, url_repo, docs, context, page.source))
            elif dataset == "deployments":
                rows.append(_deployment(item, url_repo, docs, context, page.source))
            elif is_bot(_login(item), context.settings.bots):
                result.skipped_bots += 1
            else:
                rows.append(_review(item, page, url_repo, context))
        result.converted.append(Converted(page.source, rows))
    return flag_deployments(result) if dataset == "deployments" else result


def _pages(url: str, headers: dict[str, str]) -> list[Page]:
    pages, next_url = [], url
    while next_url:
        body, response_headers = get_json(next_url, headers)
        pages.append(Page(next_url, body))
        next_url = next_link(response_headers.get("Link"))
    return pages


def fetch(token: str, url: str, dataset: str, context: Context) -> list[Page]:
    """The documents `dataset` needs, pulled live from the GitHub API at `url`, following `Link` headers."""
    if not context.repo or not re.fullmatch(r"[^/\s]+/[^/\s]+", context.repo):
        raise InputError("--repo owner/name is required to pull from GitHub")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
               "X-GitHub-Api-Version": "2022-11-28"}
    base, size = f"{url.rstrip('/')}/repos/{quote(context.repo)}", f"per_page={min(context.page_size, 100)}"
    if dataset == "deployments":
        pages = _pages(f"{base}/deployments?{size}", headers)
        ids = [d.get("id") for p in pages for d in _list(p, "a deployments page") if isinstance(d, dict)]
        return pages + [p for i in ids for p in _pages(f"{base}/deployments/{i}/statuses?{size}", headers)]
    pages = _pages(f"{base}/pulls?{urlencode({'state': 'all'})}&{size}", headers)
    numbers = [p.get("number") for page in pages for p in _list(page, "a pulls page") if isinstance(p, dict)]
    calls = ["pulls/{n}/reviews"] if dataset == "reviews" else [
        "pulls/{n}", "pulls/{n}/commits", "pulls/{n}/reviews", "issues/{n}/timeline"]
    extra = [p for n in numbers for call in calls
             for p in _pages(f"{base}/{call.format(n=n)}" + ("" if call == "pulls/{n}" else f"?{size}"), headers)]
    return pages + extra
