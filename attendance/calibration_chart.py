"""The calibration chart: genuine and impostor distance distributions with the current and recommended thresholds.

One drawing, two outputs: an SVG string (inline on the admin page, or a ``.svg`` file) and a PNG through
Pillow. Per photo, two distances are drawn: to its own student's other photos (genuine) and to the nearest
other student (what a camera would see if that child were not enrolled). Each is scaled to its own highest
bar; where they overlap, and where the thresholds cut them, is what an admin reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np

from attendance.calibration import Calibration
from attendance.errors import InvalidInput

WIDTH_PX, HEIGHT_PX = 720, 300
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 20, 20, 40, 40
GENUINE_COLOUR, IMPOSTOR_COLOUR = "#2e7d32", "#c62828"
CURRENT_COLOUR, RECOMMENDED_COLOUR = "#616161", "#1565c0"
DEFAULT_LABELS = {
    "genuine": "same student (leave-one-out)", "impostor": "nearest other student",
    "current": "current", "recommended": "recommended", "distance": "distance",
}


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str


@dataclass(frozen=True)
class Marker:
    x: float
    colour: str
    label: str
    dashed: bool


def draw_chart(calibration: Calibration) -> tuple[list[Bar], list[Marker], list[tuple[float, str]], float]:
    """The chart's bars, threshold markers and x-axis ticks (pixel x, text), and the distance at the right edge."""
    edges = calibration.histogram_edges
    genuine = np.histogram(calibration.genuine, bins=edges)[0]
    impostor = np.histogram(calibration.impostor_best, bins=edges)[0]
    used = np.flatnonzero((genuine + impostor) > 0)
    thresholds = [calibration.current.threshold, calibration.threshold]
    right = max(float(edges[used[-1] + 1]) if used.size else 1.0, max(thresholds) + 0.05)
    right = min(float(edges[-1]), float(np.ceil(right * 10) / 10))
    plot_w, plot_h = WIDTH_PX - PAD_LEFT - PAD_RIGHT, HEIGHT_PX - PAD_TOP - PAD_BOTTOM

    def x_of(distance: float) -> float:
        return PAD_LEFT + plot_w * min(max(distance, 0.0), right) / right

    bars: list[Bar] = []
    for counts, colour in ((impostor, IMPOSTOR_COLOUR), (genuine, GENUINE_COLOUR)):
        peak = counts.max() if counts.size and counts.max() > 0 else 0
        for i, count in enumerate(counts):
            if not count or not peak or edges[i] >= right:
                continue
            height = plot_h * count / peak
            bars.append(Bar(x_of(edges[i]), PAD_TOP + plot_h - height, x_of(edges[i + 1]) - x_of(edges[i]),
                            height, colour))
    markers = [Marker(x_of(calibration.current.threshold), CURRENT_COLOUR, "current", True),
               Marker(x_of(calibration.threshold), RECOMMENDED_COLOUR, "recommended", False)]
    ticks = [(x_of(t), f"{t:.1f}") for t in np.arange(0.0, right + 1e-9, 0.1)]
    return bars, markers, ticks, right


def render_svg(calibration: Calibration, labels: dict[str, str] | None = None) -> str:
    """The chart as a standalone SVG document (``labels`` translate its words; English by default)."""
    words = {**DEFAULT_LABELS, **(labels or {})}
    bars, markers, ticks, _ = draw_chart(calibration)
    base_y = HEIGHT_PX - PAD_BOTTOM
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH_PX} {HEIGHT_PX}" '
             f'width="{WIDTH_PX}" height="{HEIGHT_PX}" role="img" aria-label="{escape(words["distance"])}" '
             'font-family="sans-serif" font-size="12">']
    for bar in bars:
        parts.append(f'<rect x="{bar.x:.1f}" y="{bar.y:.1f}" width="{max(bar.width - 1, 1):.1f}" '
                     f'height="{bar.height:.1f}" fill="{bar.colour}" fill-opacity="0.55"/>')
    parts.append(f'<line x1="{PAD_LEFT}" y1="{base_y}" x2="{WIDTH_PX - PAD_RIGHT}" y2="{base_y}" stroke="#000"/>')
    for x, text in ticks:
        parts.append(f'<line x1="{x:.1f}" y1="{base_y}" x2="{x:.1f}" y2="{base_y + 4}" stroke="#000"/>'
                     f'<text x="{x:.1f}" y="{base_y + 16}" text-anchor="middle">{text}</text>')
    parts.append(f'<text x="{WIDTH_PX / 2:.0f}" y="{HEIGHT_PX - 6}" text-anchor="middle">{escape(words["distance"])}</text>')
    for marker, value, y in ((markers[0], calibration.current.threshold, 14), (markers[1], calibration.threshold, 28)):
        dash = ' stroke-dasharray="5,4"' if marker.dashed else ""
        parts.append(f'<line x1="{marker.x:.1f}" y1="{PAD_TOP - 4}" x2="{marker.x:.1f}" y2="{base_y}" '
                     f'stroke="{marker.colour}" stroke-width="2"{dash}/>'
                     f'<text x="{marker.x + 4:.1f}" y="{y}" fill="{marker.colour}">'
                     f'{escape(words[marker.label])} {value:.3f}</text>')
    legend_x = WIDTH_PX - PAD_RIGHT - 230
    for row, (colour, key) in enumerate(((GENUINE_COLOUR, "genuine"), (IMPOSTOR_COLOUR, "impostor"))):
        y = PAD_TOP + 8 + row * 18
        parts.append(f'<rect x="{legend_x}" y="{y - 10}" width="12" height="12" fill="{colour}" fill-opacity="0.55"/>'
                     f'<text x="{legend_x + 18}" y="{y}">{escape(words[key])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_png(calibration: Calibration, path: Path) -> None:
    """The same chart as a PNG file (Pillow's default font, English words)."""
    from PIL import Image, ImageDraw

    bars, markers, ticks, _ = draw_chart(calibration)
    image = Image.new("RGB", (WIDTH_PX, HEIGHT_PX), "white")
    draw = ImageDraw.Draw(image, "RGBA")
    for bar in bars:
        rgb = tuple(int(bar.colour[i:i + 2], 16) for i in (1, 3, 5))
        draw.rectangle([bar.x, bar.y, bar.x + max(bar.width - 1, 1), bar.y + bar.height], fill=(*rgb, 140))
    base_y = HEIGHT_PX - PAD_BOTTOM
    draw.line([PAD_LEFT, base_y, WIDTH_PX - PAD_RIGHT, base_y], fill="black")
    for x, text in ticks:
        draw.line([x, base_y, x, base_y + 4], fill="black")
        draw.text((x - 8, base_y + 6), text, fill="black")
    for marker, value, y in ((markers[0], calibration.current.threshold, 6), (markers[1], calibration.threshold, 20)):
        draw.line([marker.x, PAD_TOP - 4, marker.x, base_y], fill=marker.colour, width=2)
        draw.text((marker.x + 4, y), f"{DEFAULT_LABELS[marker.label]} {value:.3f}", fill=marker.colour)
    legend_x = WIDTH_PX - PAD_RIGHT - 230
    for row, (colour, key) in enumerate(((GENUINE_COLOUR, "genuine"), (IMPOSTOR_COLOUR, "impostor"))):
        y = PAD_TOP + row * 18
        rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
        draw.rectangle([legend_x, y, legend_x + 12, y + 12], fill=(*rgb, 140))
        draw.text((legend_x + 18, y), DEFAULT_LABELS[key], fill="black")
    image.save(path, format="PNG")


def write_chart(calibration: Calibration, path: Path | str) -> Path:
    """Write the chart to ``path``: ``.svg`` or ``.png`` (``InvalidInput`` for any other suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".svg":
        path.write_text(render_svg(calibration), encoding="utf-8")
    elif suffix == ".png":
        render_png(calibration, path)
    else:
        raise InvalidInput(f"the chart must be a .svg or .png file, not {path.name!r}")
    return path
