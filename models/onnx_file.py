"""Writing a converted ONNX model: the same network always gives the same bytes, written atomically."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import onnx


def save_model(model: onnx.ModelProto, out_path: Path | str, *, sha256_file: bool = True) -> str:
    """Serialise ``model`` deterministically to ``out_path`` (its folder created, replaced atomically) and
    return the file's sha256; with ``sha256_file``, also ``<out_path>.sha256`` ("<hex>  <name>")."""
    payload = model.SerializeToString(deterministic=True)
    digest = hashlib.sha256(payload).hexdigest()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out_path, payload)
    if sha256_file:
        write_atomically(out_path.with_name(out_path.name + ".sha256"), f"{digest}  {out_path.name}\n".encode())
    return digest


def write_atomically(path: Path, payload: bytes) -> None:
    """Write ``payload`` to a temporary file beside ``path``, then move it into place."""
    temp = path.with_name(path.name + ".tmp")
    temp.write_bytes(payload)
    os.replace(temp, path)
