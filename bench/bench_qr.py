"""QR cards at the gate: decode time per frame, and the agent's frame rate with and without reading cards.

    python -m bench.bench_qr                         # short_hamilton_clip.mp4, 640x360
    python -m bench.bench_qr --clip intel/classroom.mp4 --every 1 3 6

On the clip's decoded frames (a card pasted into the middle third of them, as a student holds one up):
(1) ``QrReader.read`` per frame at scale 1.0 and 0.5, frames with and without a card (median and p95 ms);
(2) the agent's pipeline (the bench_agent loop) plus ``CardReader`` every N frames, frames per second by
CPU time, N = 0 meaning no card reading. Needs ../shared/faces; prints markdown tables.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from attendance.card_print import CardFace, find_card_font, render_card_png
from attendance.cards import new_card_secret, sign_card
from attendance.faces.factory import build_face_engine
from attendance.faces.qr import QrReader
from attendance.settings import Settings, load_settings
from bench.bench_agent import FACES, enroll_people, read_frames
from camera_agent.agent import pipeline_config
from camera_agent.cards import CardReader
from camera_agent.engine import build_engine, operating_point
from camera_agent.gallery_sync import GallerySnapshot
from camera_agent.pipeline import Pipeline
from camera_agent.settings import AgentSettings
from camera_agent.sources import Frame

CARD_SHARE = 1 / 3  # of the frames show a card (the middle third)


def card_image(height_px: int) -> np.ndarray:
    payload = sign_card(new_card_secret(), "THCS1", "HS002").payload
    png = render_card_png(CardFace("Trần Thị Bình", "6A1", "HS002", "Trường THCS 1", payload), find_card_font())
    card = Image.open(io.BytesIO(png)).convert("RGB")
    width = round(card.width * height_px / card.height)
    return np.asarray(card.resize((width, height_px)))


def with_cards(frames: list[Frame]) -> tuple[list[Frame], set[int]]:
    """The frames, a card (half the frame's height) pasted in the middle third of them."""
    height, width = frames[0].image.shape[:2]
    card = card_image(height // 2)
    top, left = height // 4, (width - card.shape[1]) // 2
    first, last = int(len(frames) * CARD_SHARE), int(len(frames) * 2 * CARD_SHARE)
    out = []
    for i, frame in enumerate(frames):
        if first <= i < last:
            image = frame.image.copy()
            image[top:top + card.shape[0], left:left + card.shape[1]] = card
            frame = replace(frame, image=image)
        out.append(frame)
    return out, set(range(first, last))


def time_decodes(frames: list[Frame], carded: set[int], scale: float) -> tuple[list[float], list[float], int]:
    reader = QrReader(scale)
    with_card, without, read = [], [], 0
    for i, frame in enumerate(frames):
        started = time.perf_counter()
        texts = reader.read(frame.image)
        (with_card if i in carded else without).append((time.perf_counter() - started) * 1000.0)
        read += bool(texts) and i in carded
    return with_card, without, read


def run_agent_loop(engine, gallery, frames: list[Frame], settings: AgentSettings, every: int) -> tuple[float, int]:
    """CPU frames per second of the pipeline plus card reading every ``every`` frames; and the cards read."""
    pipeline = Pipeline(engine, pipeline_config(settings, operating_point(settings, engine.model_id)))
    cards = CardReader(every, settings.qr_scale)
    snapshot = GallerySnapshot(gallery, "bench", None)
    seen = 0
    cpu_started = time.process_time()
    for frame in frames:
        pipeline.process(frame, snapshot)
        seen += len(cards.read(frame))
    cpu_s = time.process_time() - cpu_started
    return len(frames) / cpu_s, seen


def ms(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):.1f}" if values else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="short_hamilton_clip.mp4", help="a clip under ../shared/faces/video")
    parser.add_argument("--every", type=int, nargs="*", default=[0, 1, 3], help="card reading every N frames")
    parser.add_argument("--max-frames", type=int, default=300)
    args = parser.parse_args(argv)
    if not FACES.exists():
        print(f"bench_qr: {FACES} is missing (see ../shared/faces/README.md)", file=sys.stderr)
        return 2
    frames, _ = read_frames(FACES / "video" / args.clip, 0.0)
    frames, carded = with_cards(frames[:args.max_frames])
    height, width = frames[0].image.shape[:2]
    print(f"## QR decode per frame ({args.clip}, {width}x{height}, {len(frames)} frames, {len(carded)} with a card)\n")
    print("| scale | with a card: p50 ms | p95 ms | cards read | no card: p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|")
    for scale in (1.0, 0.5):
        card_ms, plain_ms, read = time_decodes(frames, carded, scale)
        print(f"| {scale} | {ms(card_ms, 50)} | {ms(card_ms, 95)} | {read}/{len(carded)} | {ms(plain_ms, 50)} | "
              f"{ms(plain_ms, 95)} |")
    settings = load_settings(AgentSettings, environ={}, overrides={"outbox": str(Path(tempfile.gettempdir()) / "x")})
    gallery = enroll_people(build_face_engine(load_settings(Settings, environ={}), "dlib"), FACES / "people")
    engine = build_engine(settings)
    print("\n## The agent's frame rate with card reading (CPU time)\n")
    print("| card reading | fps | card sightings |")
    print("|---|---|---|")
    for every in args.every:
        fps, seen = run_agent_loop(engine, gallery, frames, settings, every)
        print(f"| {'off' if every == 0 else f'every {every} frames'} | {fps:.1f} | {seen} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
