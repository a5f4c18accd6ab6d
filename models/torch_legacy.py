"""Read a PyTorch state dict saved in the legacy (pre-1.6, not zip) format into numpy arrays, without torch.

The legacy file is a run of pickles followed by raw storages: a magic number, the protocol version, a
``sys_info`` dict, the object itself (tensors appear as ``_rebuild_tensor_v2`` calls on *persistent ids*
that name a storage by key), then the list of storage keys, then for each key in that order an 8-byte
little-endian element count and the storage's bytes. The unpickler here resolves only the few globals a
state dict needs (an ``OrderedDict``, the tensor rebuild function and the storage types); anything else in
the pickle is refused, so a hostile file cannot run code.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from models.errors import ModelFileError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class TorchFormatError(ModelFileError):
    """The bytes are not a legacy PyTorch state dict this reader understands."""


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype


@dataclass(frozen=True)
class _TensorRef:
    """A tensor before its storage is read: a strided view into storage ``key``."""

    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]


def _rebuild_tensor(storage, storage_offset, size, stride, *_rest) -> _TensorRef:
    return _TensorRef(storage, int(storage_offset), tuple(int(s) for s in size), tuple(int(s) for s in stride))


class _StateDictUnpickler(pickle.Unpickler):
    """An unpickler that knows only what a state dict contains, and refuses every other global."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name  # a storage type; persistent_load turns it into a dtype
        raise TorchFormatError(f"refusing pickle global {module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"):
            raise TorchFormatError(f"unexpected persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if storage_type not in _STORAGE_DTYPES:
            raise TorchFormatError(f"unsupported storage type {storage_type!r}")
        # ("storage", type, key, location, element count, view metadata)
        if len(pid) > 5 and pid[5] is not None:
            raise TorchFormatError("storage views are not supported")
        return _StorageRef(key, _STORAGE_DTYPES[storage_type])


def _load_pickle(stream: io.BytesIO):
    try:
        return _StateDictUnpickler(stream).load()
    except TorchFormatError:
        raise
    except Exception as err:  # pickle raises many types for corrupt input
        raise TorchFormatError(f"corrupt pickle at byte {stream.tell()}: {err}") from err


def read_legacy_state_dict(data: bytes) -> dict[str, np.ndarray]:
    """Parse the bytes of a legacy ``torch.save(state_dict)`` file; return name -> float32/int array.

    Raises ``TorchFormatError`` for a zip-format file, a wrong magic number or anything but a flat dict
    of tensors.
    """
    if data[:2] == b"PK":
        raise TorchFormatError("this is a zip-format (PyTorch >= 1.6) file, not the legacy format")
    stream = io.BytesIO(data)
    if _load_pickle(stream) != LEGACY_MAGIC:
        raise TorchFormatError("not a legacy PyTorch file (wrong magic number)")
    if _load_pickle(stream) != LEGACY_PROTOCOL:
        raise TorchFormatError("unsupported legacy protocol version")
    sys_info = _load_pickle(stream)
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise TorchFormatError("only little-endian files are supported")
    obj = _load_pickle(stream)
    keys = _load_pickle(stream)
    if not isinstance(obj, dict) or not isinstance(keys, list):
        raise TorchFormatError("the file does not hold a state dict")
    refs = {name: value for name, value in obj.items() if isinstance(value, _TensorRef)}
    if len(refs) != len(obj):
        raise TorchFormatError("the state dict holds values that are not tensors")
    dtypes = {ref.storage.key: ref.storage.dtype for ref in refs.values()}
    storages: dict[str, np.ndarray] = {}
    for key in keys:
        count_bytes = stream.read(8)
        if len(count_bytes) != 8:
            raise TorchFormatError(f"file ends before storage {key}")
        count = int.from_bytes(count_bytes, "little")
        dtype = dtypes.get(str(key), np.dtype("<f4"))
        raw = stream.read(count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise TorchFormatError(f"storage {key} is truncated")
        storages[str(key)] = np.frombuffer(raw, dtype=dtype)
    if stream.read(1):
        raise TorchFormatError("trailing bytes after the last storage")
    return {name: _materialise(ref, storages) for name, ref in refs.items()}


def _materialise(ref: _TensorRef, storages: dict[str, np.ndarray]) -> np.ndarray:
    storage = storages.get(ref.storage.key)
    if storage is None:
        raise TorchFormatError(f"tensor refers to a missing storage {ref.storage.key}")
    if not ref.shape:
        return np.array(storage[ref.offset])
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.strides))
    if ref.offset < 0 or (last >= len(storage) and all(ref.shape)):
        raise TorchFormatError(f"tensor of storage {ref.storage.key} runs past its end")
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[ref.offset:], shape=ref.shape, strides=tuple(s * itemsize for s in ref.strides), writeable=False,
    )
    return np.array(view)
