"""The demo's sample photos and clip: a folder the user gives, or the face_recognition project's public
examples downloaded (only when the demo is run without ``--data``) from pinned commits, checked by sha256.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = "https://raw.githubusercontent.com/ageitgey/face_recognition"
CLIP = "video/short_hamilton_clip.mp4"
# Who the clip shows, of the sample people (folder names under people/): the others are enrolled but never
# walk past the camera, so the roll keeps them "not yet in" (or absent after the cutoff).
CLIP_PEOPLE = ("lin_manuel_miranda",)


@dataclass(frozen=True)
class SampleFile:
    """One file of the sample set: where it goes in the data folder, where it comes from, its sha256."""

    local: str
    commit: str
    remote: str
    sha256: str

    @property
    def url(self) -> str:
        return f"{REPOSITORY}/{self.commit}/{self.remote}"


SAMPLE_FILES = (
    SampleFile("people/barack_obama/obama.jpg", "e15120e6ba08cde1216607d2eb27e0eb0f0ea37c",
               "examples/obama.jpg", "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6"),
    SampleFile("people/barack_obama/obama2.jpg", "3a05e0bd31229e2cb95bb8b87cbe122adff562af",
               "examples/knn_examples/train/obama/obama2.jpg",
               "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6"),
    SampleFile("people/alex_lacamoire/alex-lacamoire.png", "7944f2ed5befa878cbc72a651871be297565e1b8",
               "examples/alex-lacamoire.png", "affd4bba70510b20286c5b392e6a73ef149f4dff02105a09e19ce80d7d138707"),
    SampleFile("people/alex_lacamoire/img1.jpg", "d4292a8fb2f795b9ebe265ffff2d38a5767ea349",
               "examples/knn_examples/train/alex_lacamoire/img1.jpg",
               "348e0a705ebd86f531553298348913a0483a70c966f1eebea5d8409b2421516b"),
    SampleFile("people/lin_manuel_miranda/lin-manuel-miranda.png", "f37e636e22306d4efcc35fb1ef33d47183cfc5e7",
               "examples/lin-manuel-miranda.png", "1f29c132951d7741431b32aaaf569d79a11bc690b04b843f12b7e306f080599a"),
    SampleFile("people/rose_leslie/img2.jpg", "d4292a8fb2f795b9ebe265ffff2d38a5767ea349",
               "examples/knn_examples/train/rose_leslie/img2.jpg",
               "274a9c97300ed1657faa1c293979c75013f2998ee0403c79fbbc10be67b442d2"),
    SampleFile(CLIP, "f37e636e22306d4efcc35fb1ef33d47183cfc5e7", "examples/short_hamilton_clip.mp4",
               "0b5ff4c55a4cd69f79956f312681730881fe1e2a9e6146e75c31636dffcc7e28"),
)


class SampleDataError(Exception):
    """The sample data could not be found or downloaded; the message says what to do."""


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "school-attendance" / "demo"


def check_data_folder(data: Path) -> Path:
    """``data`` if it holds ``people/<name>/`` photos and the clip; else SampleDataError naming what is missing."""
    if not (data / "people").is_dir() or not any((data / "people").iterdir()):
        raise SampleDataError(f"{data} has no people/<name>/ photo folders")
    if not (data / CLIP).is_file():
        raise SampleDataError(f"{data} has no {CLIP}")
    return data


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_samples(cache: Path, say=print, timeout_s: float = 30.0) -> Path:
    """Download every sample file not already in ``cache`` (checked by sha256); returns ``cache``."""
    for sample in SAMPLE_FILES:
        target = cache / sample.local
        if target.is_file() and sha256_of(target) == sample.sha256:
            continue
        say(f"downloading {sample.url}")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            try:
                with urllib.request.urlopen(sample.url, timeout=timeout_s) as response:  # noqa: S310 (pinned https URL)
                    shutil.copyfileobj(response, tmp)
            except (urllib.error.URLError, TimeoutError, OSError) as err:
                Path(tmp.name).unlink(missing_ok=True)
                raise SampleDataError(
                    f"could not download {sample.url} ({err}). Are you offline? Run the demo with "
                    "--data DIR, DIR holding people/<name>/*.jpg and video/short_hamilton_clip.mp4"
                ) from err
        actual = sha256_of(Path(tmp.name))
        if actual != sample.sha256:
            Path(tmp.name).unlink(missing_ok=True)
            raise SampleDataError(f"{sample.url}: sha256 {actual} is not the pinned {sample.sha256}; not used")
        os.replace(tmp.name, target)
    return cache
