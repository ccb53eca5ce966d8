"""Knowledge silos: truck factor per repository and per service, single-owner files, files owned by people who left.

Semantics (counts only; nobody is named):

- **Degree of authorship** (Avelino et al. 2016, "A novel approach for estimating truck factors"), per
  repository, file (`path`) and author of `commit_files`:
  ``DOA = 3.293 + 1.098 FA + 0.164 DL - 0.321 ln(1 + AC)``, where FA = 1 when the author created the file
  (made its earliest commit; equal times: the smaller `sha`), DL = the author's commits to the file and AC =
  the commits to the file by everybody else. Normalised DOA = DOA / the file's largest DOA. An author
  **owns** a file when normalised DOA >= 0.75 and DOA >= 3.293. A file can have no owner (many commits by
  others).
- **Commits counted**: the `commit_files` rows committed before `as_of` (``committed_at <`` the UTC midnight
  starting that day, default today), except rows flagged `is_bot` or `is_merge` (null = false): a bot is
  nobody whose leaving loses knowledge, and a merge commit's diff repeats its parents' work. Every path of
  those rows counts as a file (deletions and renames are not tracked); a path only bots or merges touched is
  not a file.
- **Authors** are people: an author that is one of a person's `people.aliases` (a git e-mail beside a GitHub
  login) counts as that person (`engmetrics.delivery.identity`), so leavers are found whatever source wrote
  the commits.
- **Truck factor** of a repository: owners are removed greedily, the one owning most files first (equal
  counts: the smaller pseudonym), until more than half of the repository's files have no owner left; the
  truck factor is the number removed (0 when more than half had no owner to begin with). The per-file DOA is
  an Ibis expression; the greedy loop runs in numpy over each repository's small owner x file matrix.
- **Services**: the same figures over a service's files: those of its repository (`services.repo`, else the
  repository named like the service) under its `path_prefix` (none: the whole repository). A service whose
  repository has no commits is not listed. Ownership (DOA) is always judged per repository file.
- **Single-owner file**: exactly one owner. A **single-owner repository** (or service) has one owner in all.
- **Leaver** (as of `as_of`, default today UTC): has a `people` membership that ended before `as_of`
  (`valid_to < as_of`) and none in force on `as_of`. **Leaver files**: files one of whose owners left;
  **orphaned files**: files all of whose owners left.
- Per team: a person counts for their latest membership that started on or before `as_of` (a leaver's last
  team); owners without a membership count under team ``None``. Teams get file counts only.
- `silos_report` reads the support graph and documentation freshness at the same instant (the UTC midnight
  starting `as_of`): requests created before it, open unless resolved before it (`engmetrics.delivery.support`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np

from ..store import Store
from .identity import canonical

__all__ = [
    "AUTHOR_MIN_DOA",
    "AUTHOR_MIN_NORMALISED",
    "RepoSilos",
    "TeamSilos",
    "authored_commits",
    "authorship",
    "leavers",
    "person_teams",
    "repository_silos",
    "service_silos",
    "silos_report",
    "team_silos",
    "truck_factor",
]

AUTHOR_MIN_DOA = 3.293
AUTHOR_MIN_NORMALISED = 0.75
_FILE = ["repo", "path"]


@dataclass(frozen=True)
class RepoSilos:
    """One repository or service (`kind`, `name`): files, owners (a count), truck factor and silo counts."""

    name: str
    files: int
    owners: int
    truck_factor: int
    single_owner_files: int
    single_owner_repo: bool
    leaver_files: int
    orphaned_files: int
    kind: str = "repo"

    def to_dict(self) -> dict:
        """`{"repo": ...}` for a repository; `{"service": ..., "single_owner_service": ...}` for a service."""
        keys = {"name": self.kind, "single_owner_repo": f"single_owner_{self.kind}"}
        return {keys.get(k, k): v for k, v in asdict(self).items() if k != "kind"}


@dataclass(frozen=True)
class TeamSilos:
    """File counts per team of the owner: single-owner files and files owned by leavers of the team."""

    team: str | None
    single_owner_files: int
    leaver_files: int

    def to_dict(self) -> dict:
        return asdict(self)


def _today(as_of: date | None) -> date:
    return as_of or datetime.now(UTC).date()


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def authored_commits(store: Store, as_of: date | None = None) -> ir.Table:
    """The `commit_files` rows that count (module doc): before `as_of` (None: no bound), no bots, no merges;
    authors resolved to people through `people.aliases` (`engmetrics.delivery.identity`)."""
    cf = store.table("commit_files")
    cf = cf.filter(~cf.is_bot.fill_null(False), ~cf.is_merge.fill_null(False))
    cf = cf if as_of is None else cf.filter(cf.committed_at < _midnight(as_of))
    return canonical(cf, "author", store)


def authorship(store: Store, repo: str | None = None, as_of: date | None = None) -> ir.Table:
    """``(repo, path, author, fa, dl, ac, doa, doa_norm, is_owner)`` per author of each file, over
    `authored_commits` (module doc)."""
    cf = authored_commits(store, as_of)
    if repo is not None:
        cf = cf.filter(cf.repo == repo)
    ranked = cf.mutate(_rn=ibis.row_number().over(group_by=[cf.repo, cf.path], order_by=[cf.committed_at, cf.sha]))
    creators = ranked.filter(ranked._rn == 0).select(*_FILE, _creator=ranked.author)
    per = cf.group_by([*_FILE, "author"]).aggregate(dl=cf.count())
    per = per.mutate(_total=per.dl.sum().over(group_by=[per.repo, per.path]))
    per = per.join(creators, _FILE)
    per = per.select(*_FILE, "author", fa=(per.author == per._creator).cast("int64"), dl=per.dl,
                     ac=per._total - per.dl)
    doa = 3.293 + 1.098 * per.fa + 0.164 * per.dl - 0.321 * (per.ac + 1).cast("float64").ln()
    per = per.mutate(doa=doa)
    per = per.mutate(doa_norm=per.doa / per.doa.max().over(group_by=[per.repo, per.path]))
    return per.mutate(is_owner=(per.doa_norm >= AUTHOR_MIN_NORMALISED) & (per.doa >= AUTHOR_MIN_DOA))


def truck_factor(owners: np.ndarray, files: int) -> int:
    """Owners removed (most files first; rows in tie order) until more than half of `files` have no owner.

    `owners` is a boolean owner x file matrix over the files that have an owner; `files` counts all files.

    >>> truck_factor(np.array([[1, 1, 1, 0], [0, 0, 0, 1]], dtype=bool), 4)  # A out: 1 of 4 covered
    1
    >>> truck_factor(np.array([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=bool), 4)  # A out: 2 of 4 is not < half
    2
    """
    covered = owners.sum(axis=0)
    removed = 0
    for row in np.argsort(-owners.sum(axis=1), kind="stable"):
        if 2 * np.count_nonzero(covered) < files:
            break
        covered = covered - owners[row]
        removed += 1
    return removed


def person_teams(store: Store, as_of: date | None = None) -> ir.Table:
    """``(person, team)``: each person's latest membership that started on or before `as_of`."""
    p = store.table("people")
    p = p.filter(p.valid_from <= _today(as_of))
    p = p.mutate(_rn=ibis.row_number().over(group_by=p.person, order_by=ibis.desc(p.valid_from)))
    return p.filter(p._rn == 0).select("person", "team")


def leavers(store: Store, as_of: date | None = None) -> ir.Table:
    """``(person)``: a membership ended before `as_of` and none is in force on `as_of`."""
    day = _today(as_of)
    p = store.table("people")
    current = p.filter((p.valid_from <= day) & (p.valid_to.isnull() | (p.valid_to >= day))).select("person")
    ended = p.filter(p.valid_to < day).select("person").distinct()
    return ended.anti_join(current, "person")


def _owned_files(store: Store, as_of: date | None) -> ir.Table:
    """Owner rows with `_left` (the owner left) and per-file `_owners` / `_leavers` counts."""
    a = authorship(store, as_of=_today(as_of))
    a = a.filter(a.is_owner).select(*_FILE, "author")
    gone = leavers(store, as_of).select(author="person", _gone=ibis.literal(1))
    a = a.left_join(gone, "author").select(*_FILE, "author", _left=ibis.coalesce(gone._gone, 0))
    w = ibis.window(group_by=[a.repo, a.path])
    return a.mutate(_owners=a.author.count().over(w), _leavers=a._left.sum().over(w))


def _files(store: Store, as_of: date | None) -> ir.Table:
    """``(repo, path)``: every file of `authored_commits` as of `as_of` (default today)."""
    return authored_commits(store, _today(as_of)).select(*_FILE).distinct()


def _service_files(store: Store, as_of: date | None) -> ir.Table:
    """``(unit, repo, path)``: every file of each service (module doc)."""
    cf = _files(store, as_of)
    sv = store.table("services")
    sv = sv.select(unit=sv.service, _repo=sv.repo.coalesce(sv.service), _prefix=sv.path_prefix.coalesce(""))
    j = cf.join(sv, (cf.repo == sv._repo) & cf.path.startswith(sv._prefix))
    return j.select("unit", *_FILE)


def _silos(files: ir.Table, owned: ir.Table, kind: str) -> list[RepoSilos]:
    """Truck factor and counts per `unit` of `files` ``(unit, repo, path)``; owner rows from `_owned_files`."""
    n = files.group_by("unit").aggregate(n=files.count()).to_pyarrow().to_pydict()
    totals = dict(zip(n["unit"], n["n"], strict=True))
    owned = owned.join(files, _FILE)
    per_file = owned.group_by(["unit", *_FILE]).aggregate(o=owned._owners.max(), lv=owned._leavers.max())
    counts = per_file.group_by("unit").aggregate(single=(per_file.o == 1).sum(), leaver=(per_file.lv > 0).sum(),
                                                  orphaned=(per_file.lv == per_file.o).sum())
    counts = {r["unit"]: r for r in counts.to_pyarrow().to_pylist()}
    file_key = owned.repo + "\n" + owned.path  # paths hold no newline
    pairs = owned.select("unit", "author", file=file_key).order_by(["unit", "author", "file"]).to_pyarrow().to_pydict()
    units = np.asarray(pairs["unit"], dtype=object)
    result = []
    for unit, n_files in sorted(totals.items()):
        mask = units == unit
        authors, a_idx = np.unique(np.asarray(pairs["author"], dtype=object)[mask], return_inverse=True)
        paths, p_idx = np.unique(np.asarray(pairs["file"], dtype=object)[mask], return_inverse=True)
        matrix = np.zeros((len(authors), len(paths)), dtype=bool)
        matrix[a_idx, p_idx] = True
        c = counts.get(unit, {})
        result.append(RepoSilos(name=unit, files=int(n_files), owners=len(authors),
                                truck_factor=truck_factor(matrix, int(n_files)),
                                single_owner_files=int(c.get("single") or 0), single_owner_repo=len(authors) == 1,
                                leaver_files=int(c.get("leaver") or 0), orphaned_files=int(c.get("orphaned") or 0),
                                kind=kind))
    return result


def repository_silos(store: Store, as_of: date | None = None) -> list[RepoSilos]:
    """Truck factor and silo counts per repository of `commit_files`, by repository name."""
    files = _files(store, as_of)
    return _silos(files.mutate(unit=files.repo), _owned_files(store, as_of), "repo")


def service_silos(store: Store, as_of: date | None = None) -> list[RepoSilos]:
    """The same per service (module doc), by service name."""
    return _silos(_service_files(store, as_of), _owned_files(store, as_of), "service")


def team_silos(store: Store, as_of: date | None = None) -> list[TeamSilos]:
    """Single-owner files and leaver-owned files per team of the owner (distinct files), by team."""
    owned = _owned_files(store, as_of)
    teams = person_teams(store, as_of).rename(author="person")
    owned = owned.left_join(teams, "author").select(*_FILE, "team", "_left", "_owners")
    file_id = owned.repo + "\n" + owned.path  # paths hold no newline
    both = owned.group_by("team").aggregate(single=(owned._owners == 1).sum(),
                                            leaver=file_id.nunique(where=owned._left == 1))
    rows = both.to_pyarrow().to_pylist()
    return [TeamSilos(r["team"], int(r["single"]), int(r["leaver"]))
            for r in sorted(rows, key=lambda r: (r["team"] is None, r["team"] or ""))]


def silos_report(store: Store, day: date | None = None, min_dependents: int = 3) -> dict[str, Any]:
    """Everything `engmetrics delivery silos --json` shows as of `day` (default today, UTC): repositories,
    services, teams, the support graph and documentation freshness (the CLI and the API print this)."""
    from .docs_freshness import docs_freshness
    from .support import support_graph

    day = _today(day)
    moment = _midnight(day)
    return {"as_of": day.isoformat(), "repositories": [r.to_dict() for r in repository_silos(store, day)],
            "services": [r.to_dict() for r in service_silos(store, day)],
            "teams": [t.to_dict() for t in team_silos(store, day)],
            "support": support_graph(store, end=moment, min_dependents=min_dependents),
            "docs": [d.to_dict() for d in docs_freshness(store, moment)],
            "docs_by_service": [d.to_dict() for d in docs_freshness(store, moment, by="service")]}
