"""A local git repository -> `commit_files`, from `git log --numstat`.

Runs `git -C PATH -c core.quotePath=false log -z --no-renames --numstat --diff-merges=first-parent` (no
shell) over the commits reachable from HEAD (every parent's history, not only the first-parent line). One
row per file a commit touched:

- `sha`, `path` (as in the commit; a rename is the old path deleted and the new one added, since renames
  are not followed), `added`, `deleted` (empty for a binary file, which git reports as `-`);
- `repo` = `--repo` (so it can match the GitHub `owner/name` or GitLab `group/project` of the changes) or
  the repository directory's name;
- `author` = the author email, or the author name when the email is empty (pseudonymised at ingest);
- `committed_at` = the **author** date in UTC (`%aI`: a rebase or an amend rewrites the committer date, not
  the author's);
- `is_merge` = the commit has more than one parent: its rows are its diff against its **first** parent,
  i.e. what the merge brought into the branch it was merged into. They let a change merged with a merge
  commit be scoped by path (`changes.merge_commit_sha`); they are not authorship and not churn;
- `is_bot` = the author name or email matches `delivery.bots`. Bot commits are kept and marked (so path
  scoping still sees, e.g., a merge commit made by a merge bot), not left out: `skipped_bots` is 0.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ...errors import InputError
from ...incidents.connectors.common import Converted, utc
from .bots import is_bot_any
from .common import Context, Conversion

__all__ = ["DATASET", "convert", "git_log"]

DATASET = "commit_files"
_FORMAT = "%x1e%H%x1f%P%x1f%ae%x1f%an%x1f%aI"


def git_log(path: Path) -> str:
    """The raw `git log` output the rows are read from; InputError when PATH is no git repository."""
    if not path.is_dir():
        raise InputError("no such directory", file=path)
    command = ["git", "-C", str(path), "-c", "core.quotePath=false", "log", "-z", "--no-renames", "--numstat",
               "--diff-merges=first-parent", f"--format={_FORMAT}"]
    try:
        done = subprocess.run(command, capture_output=True, check=False, timeout=600)
    except FileNotFoundError:
        raise InputError("git is not installed (needed to read a local repository)") from None
    if done.returncode != 0:
        raise InputError(f"git log failed: {done.stderr.decode('utf-8', 'replace').strip()}", file=path)
    return done.stdout.decode("utf-8", "surrogateescape")


def _count(text: str) -> int | None:
    return None if text == "-" else int(text)


def convert(path: Path, context: Context) -> Conversion:
    """The `commit_files` rows of the repository at `path` (see the module docstring)."""
    repo = context.repo or path.resolve().name
    rows = []
    for record in git_log(path).split("\x1e")[1:]:
        header, _, files = record.partition("\0")
        sha, parents, email, name, authored = header.split("\x1f")
        entries = [e.split("\t", 2) for e in files.lstrip("\n").split("\0") if e.strip()]
        common = {"sha": sha, "repo": repo, "author": email or name, "committed_at": utc(authored),
                  "is_bot": is_bot_any((name, email), context.settings.bots), "is_merge": len(parents.split()) > 1}
        rows += [{**common, "path": file, "added": _count(added), "deleted": _count(deleted)}
                 for added, deleted, file in entries]
    return Conversion([Converted(f"git:{path}", rows)])
