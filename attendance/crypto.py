"""Encryption at rest: face templates, kept enrollment photos and snapshots sealed with AES-256-GCM.

A sealed blob is ``MAGIC (5 bytes) | key id (8 bytes) | nonce (12 bytes) | ciphertext | tag (16 bytes)``.
The key id (the first 8 bytes of the key's SHA-256) sits beside each ciphertext, so a keyring holding the
new key and the old ones reads everything during a rotation (``attendance keys rotate``), and the error
for a missing key names the id it needs. Each blob is bound to its purpose (``template``, ``photo``,
``snapshot``, ``gallery``) as associated data: a blob moved to another use does not open.

The keys never go in the database: they come from ``ATTENDANCE_DATA_KEY`` (base64 keys, comma-separated,
the current one first) or a key file (``data_key_file``, default ``<instance>/data_keys``: one base64 key a
line, the current one first), which is generated, 0600, on the first start when neither exists, as the
dashboard's secret key is. Without the key, the database and the instance folder hold nothing readable.

The process's keyring is installed once at start-up (``install_keyring``: the dashboard's ``create_app``,
the ``attendance`` CLI) and the database column type ``SealedBytes`` uses it, as logging is configured once.
Plaintext written before encryption was turned on still reads (JPEGs start FF D8, and a face vector that began
with the magic bytes would hold a value near 2e8); ``attendance keys rotate`` seals it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from attendance.errors import AttendanceError

logger = logging.getLogger(__name__)

MAGIC = b"AGCM1"
KEY_ID_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = len(MAGIC) + KEY_ID_BYTES + NONCE_BYTES
KEY_BYTES = 32
PURPOSES = ("template", "photo", "snapshot", "gallery")
KEY_FILE_NAME = "data_keys"


class DataKeyError(AttendanceError):
    """A data key is missing, malformed, or does not open a blob (the wrong key, or a damaged blob)."""

    code = "data_key"




def key_id(key: bytes) -> bytes:
    """The 8-byte id stored beside every blob sealed with ``key``."""
    return hashlib.sha256(key).digest()[:KEY_ID_BYTES]


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return secrets.token_bytes(KEY_BYTES)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def decode_keys(text: str) -> list[bytes]:
    """Keys from base64 text (comma- or line-separated, ``#`` comments); ``DataKeyError`` when one is bad."""
    keys = []
    items = [item.strip() for line in text.splitlines() for item in line.split("#", 1)[0].split(",")]
    for item in filter(None, items):
        try:
            key = base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError) as err:
            raise DataKeyError("a data key is not valid base64") from err
        if len(key) != KEY_BYTES:
            raise DataKeyError(f"a data key must be {KEY_BYTES} bytes (base64 of 32 random bytes), got {len(key)}")
        keys.append(key)
    return keys


def is_sealed(blob: bytes) -> bool:
    """True when ``blob`` is a sealed blob (not plaintext written before encryption was on)."""
    return len(blob) >= HEADER_BYTES + TAG_BYTES and blob[:len(MAGIC)] == MAGIC


class Keyring:
    """The current key (seals) and older ones (still open); ``keys[0]`` is current."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise DataKeyError("a keyring needs at least one key")
        self.keys = list(keys)
        self._by_id = {key_id(k): AESGCM(k) for k in self.keys}
        self.current_id = key_id(self.keys[0])
        self._current = self._by_id[self.current_id]

    def seal(self, plaintext: bytes, purpose: str) -> bytes:
        """``plaintext`` encrypted with the current key (and a fresh random nonce) for ``purpose``."""
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._current.encrypt(nonce, plaintext, purpose.encode("ascii"))
        return MAGIC + self.current_id + nonce + ciphertext

    def open(self, blob: bytes, purpose: str) -> bytes:
        """The plaintext of a sealed blob; plaintext written before encryption passes through unchanged."""
        if not is_sealed(blob):
            return blob
        ident = blob[len(MAGIC):len(MAGIC) + KEY_ID_BYTES]
        cipher = self._by_id.get(ident)
        if cipher is None:
            raise DataKeyError(f"data sealed with key {ident.hex()}, which is not in the keyring "
                               "(ATTENDANCE_DATA_KEY or the data_keys file): restore that key")
        nonce = blob[len(MAGIC) + KEY_ID_BYTES:HEADER_BYTES]
        try:
            return cipher.decrypt(nonce, blob[HEADER_BYTES:], purpose.encode("ascii"))
        except InvalidTag as err:
            raise DataKeyError(f"a sealed {purpose} does not open: damaged, or sealed for another use") from err

    def is_current(self, blob: bytes) -> bool:
        """True when ``blob`` is sealed with the current key (rotation skips it)."""
        return is_sealed(blob) and blob[len(MAGIC):len(MAGIC) + KEY_ID_BYTES] == self.current_id


# -- the process's keyring ----------------------------------------------------------------------------------

_installed: Keyring | None = None


def install_keyring(keyring: Keyring | None) -> None:
    """Make ``keyring`` the one the database column type and the file helpers use (None: uninstall)."""
    global _installed
    _installed = keyring


def installed_keyring() -> Keyring:
    """The process's keyring; ``DataKeyError`` when none was installed (nothing is ever written in clear)."""
    if _installed is None:
        raise DataKeyError("no data key is loaded: templates and photos cannot be read or written")
    return _installed


def key_file_path(settings) -> Path:
    """Where the key file is: ``data_key_file``, or ``data_keys`` in the instance folder."""
    return Path(settings.data_key_file) if settings.data_key_file else Path(settings.instance_path) / KEY_FILE_NAME


def load_keyring(settings, *, create: bool = True) -> Keyring:
    """The keyring of ``settings``: ``data_key`` when set, else the key file, generated when missing and
    ``create`` (with a warning: back it up, or the sealed data is lost with it)."""
    if settings.data_key:
        return Keyring(decode_keys(settings.data_key))
    path = key_file_path(settings)
    if path.exists():
        return Keyring(decode_keys(path.read_text(encoding="ascii")))
    if not create:
        raise DataKeyError(f"no data key: set ATTENDANCE_DATA_KEY or create {path}")
    keyring = Keyring([new_key()])
    write_key_file(path, keyring.keys)
    logger.warning("generated a new data key in %s (key id %s): back it up with the database; without it the "
                   "face templates and photos cannot be read", path, keyring.current_id.hex())
    return keyring


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Write ``keys`` (current first) to ``path``, 0600, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write("# AES-256-GCM data keys, base64, the current one first. Never in the database; back up.\n")
        fh.writelines(encode_key(k) + "\n" for k in keys)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def derive_key(label: str, context: bytes) -> bytes:
    """A 256-bit key derived from the current data key for ``label`` and ``context`` (HMAC-SHA256): stable
    while the data key is, different for each context, and useless for recovering the data key."""

    message = label.encode("ascii") + b"\x00" + context
    return hmac.new(installed_keyring().keys[0], message, hashlib.sha256).digest()


def seal_bytes(plaintext: bytes, purpose: str) -> bytes:
    """``plaintext`` sealed with the installed keyring."""
    return installed_keyring().seal(plaintext, purpose)


def open_bytes(blob: bytes, purpose: str) -> bytes:
    """A blob opened with the installed keyring (plaintext written before encryption passes through)."""
    return installed_keyring().open(blob, purpose) if is_sealed(blob) else blob


def read_sealed_file(path: str | os.PathLike[str], purpose: str) -> bytes:
    """The plaintext of a sealed file under the instance folder (a photo or snapshot)."""
    return open_bytes(Path(path).read_bytes(), purpose)


def write_sealed_file(path: str | os.PathLike[str], plaintext: bytes, purpose: str) -> None:
    """Write ``plaintext`` sealed to ``path`` (its folder created)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(seal_bytes(plaintext, purpose))
