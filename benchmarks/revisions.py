"""Another revision's code, for benchmarks that measure this tree against a baseline revision.

``git archive`` of the revision extracted into a folder: unlike a git worktree, nothing is registered in the
repository, so an interrupted benchmark leaves nothing to prune.
"""
from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def export_revision(rev: str, dest: Path) -> Path:
    """Extract the tree of ``rev`` (any git revision of this repository) into ``dest``; returns ``dest``."""
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True)
    dest.mkdir(parents=True, exist_ok=True)
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.11.4
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, **safe)
    return dest
