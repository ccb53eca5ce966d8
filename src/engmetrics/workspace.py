"""Workspaces: the directory of YAML definitions and the `.engmetrics/` state beside them.

>>> import tempfile
>>> root = init_workspace(Path(tempfile.mkdtemp()) / "ws")
>>> sorted(p.name for p in root.iterdir())[:3]
['.engmetrics', '.gitignore', 'assessments']
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from .errors import InputError

__all__ = ["DEFINITION_DIRS", "ensure_pseudonym_key", "ensure_secret", "git_commit", "init_workspace"]

DEFINITION_DIRS = ("metrics", "slos", "budgets", "policies", "org", "assessments")


def _template_root() -> Path:
    return Path(str(resources.files("engmetrics") / "templates" / "workspace"))


def init_workspace(root: Path, *, force: bool = False) -> Path:
    """Scaffold a workspace at `root` (layout in DESIGN.md) and create its pseudonymisation key.

    Refuses to overwrite an existing `engmetrics.yaml` unless `force`.
    """
    root = root.resolve()
    if (root / "engmetrics.yaml").exists() and not force:
        raise InputError("a workspace already exists here (use --force to overwrite its templates)",
                         file=root / "engmetrics.yaml")
    template = _template_root()
    for source in sorted(template.rglob("*")):
        if source.is_dir():
            continue
        relative = source.relative_to(template)
        target = root / (".gitignore" if relative.name == "gitignore" else relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    ensure_pseudonym_key(root / ".engmetrics" / "pseudonym.key")
    return root


def ensure_pseudonym_key(path: Path) -> bytes:
    """The secret for keyed hashing of person columns; created (mode 0600) when missing."""
    return ensure_secret(path, "pseudonymisation key")


def ensure_secret(path: Path, what: str = "secret key") -> bytes:
    """A 32-byte secret kept hex-encoded in `path` (e.g. `.engmetrics/session.key`); created (mode 0600)
    when missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    key = path.read_text().strip()
    try:
        return bytes.fromhex(key)
    except ValueError:
        raise InputError(f"the {what} is not hexadecimal", file=path, line=1) from None


def git_commit(root: Path) -> str | None:
    """The HEAD commit of the git repository holding `root`, or None."""
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
