"""The instance folder's files: the database names them by a path relative to the folder, and every reader,
copier and remover finds them here, never outside the folder (a ``..`` or a link out is no file of ours)."""

from __future__ import annotations

import os
from pathlib import Path


def find_instance_file(instance_path: str | os.PathLike[str], relative: str | os.PathLike[str] | None) -> Path | None:
    """The existing file ``relative`` names under the instance folder (e.g. ``snapshots/1/2026-09-07/ab.jpg``),
    resolved; None when ``relative`` is empty, resolves outside the folder or is not a regular file."""
    if not relative:
        return None
    root = Path(instance_path).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path
