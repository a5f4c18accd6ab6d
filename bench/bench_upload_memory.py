"""Peak resident memory of decoding large uploads, as the dashboard's enrollment does.

    python bench/bench_upload_memory.py [--count 10] [--side 7700] [--max-side 2560|0]

Each run decodes ``count`` PNGs of ``side`` x ``side`` one after another (as one upload of that many photos)
and prints the process's peak RSS before and after. ``--max-side 0`` decodes at full size (the old path).
"""

from __future__ import annotations

import argparse
import io
import resource

from PIL import Image

from attendance.faces.image import decode_image


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--side", type=int, default=7700)
    parser.add_argument("--max-side", type=int, default=2560)
    parser.add_argument("--format", default="PNG")
    args = parser.parse_args()
    buffer = io.BytesIO()
    Image.new("RGB", (args.side, args.side), (180, 140, 120)).save(buffer, format=args.format)
    data = buffer.getvalue()
    before = peak_rss_mb()
    for _ in range(args.count):
        image = decode_image(data, max_side_px=args.max_side or None)
        del image
    print(f"{args.count} x {args.side}x{args.side} {args.format} ({len(data) / 1e6:.1f} MB each), max side "
          f"{args.max_side or 'none'}: peak RSS {before:.0f} MB before decoding, {peak_rss_mb():.0f} MB after")


if __name__ == "__main__":
    main()
