"""Calibration on a school's own students: how close different students come, and the operating point that follows.

Pure numpy (no database, no web, no face engine). Every enrolment photo has its own template; from them:

- genuine distances: each photo of a student with 2+ photos against that student's template built from the
  *other* photos (leave-one-out), combined by the model's rule as the cameras combine them;
- impostor comparisons: each photo against every *other* student's template (the search the cameras run,
  without the photo's own student), and per photo the best other student's distance and the margin to the
  next one.

The recommended threshold keeps the expected false-positive identification rate (a person named as someone
they are not) under ``target_fpir`` for this gallery's size: a stranger is compared with every student, so
FPIR ~= students x FMR(threshold), FMR being the share of impostor comparisons at or under the threshold
(the union bound; the margin test only lowers it, so it is left out: the estimate errs on the safe side).
FMR far below 1/comparisons cannot be counted in a small gallery: where fewer than ``MIN_TAIL_COUNT``
comparisons fall under a threshold, FMR comes from a normal fitted to the lowest ``TAIL_SHARE`` of the
impostor comparisons (a straight line through their normal quantile plot), never from "just under the
nearest one". The nearest ``MIN_TAIL_COUNT - 1`` comparisons are left out of the fit: one pair of twins or
one child enrolled twice must not set a whole school's threshold; they head the closest pairs instead, and
the report counts the enrolled photos still named as another student. A population that runs close (many
comparisons) does move it. The margin stays the model's measured margin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from attendance.gallery import Gallery, OperatingPoint

DEFAULT_TARGET_FPIR = 0.001
MIN_STUDENTS = 20  # students with 2+ photos needed for a recommendation (below: keep the model's default)
MIN_PHOTOS_PER_STUDENT = 2
MIN_TAIL_COUNT = 10  # comparisons under a threshold needed to count FMR there instead of extrapolating
TAIL_SHARE = 0.01  # the lowest share of impostor comparisons the normal tail is fitted to
MIN_TAIL_POINTS = 30
KEEP_LOWEST = 50_000  # impostor comparisons kept for the tail (the rest are only counted)
HISTOGRAM_BINS = 200  # 0.01 wide over distances 0-2 (the chart shows the part with data)
CLOSEST_PAIRS = 10
_CHUNK_ROWS = 256


@dataclass(frozen=True)
class ClosePair:
    """Two different students whose photos come closest: likely siblings, twins or a duplicate enrolment."""

    student_a: object
    student_b: object
    distance: float  # photo of A against B's template, as the cameras would compute it
    photo_a: object  # photo ids (None for a template without a photo)
    photo_b: object  # the photo of B nearest to ``photo_a``


@dataclass
class ImpostorTail:
    """Impostor comparisons: how many, the lowest ones (sorted) and the fitted lower tail ``N(mean, sd)``."""

    count: int
    lowest: np.ndarray
    fit_mean: float = math.nan
    fit_sd: float = math.nan

    def fmr(self, threshold: float) -> float:
        """Share of impostor comparisons at or under ``threshold``: counted where ``MIN_TAIL_COUNT`` or more
        fall under it, else from the fitted tail (a count of 0-9 says little about a rate of 1e-6)."""
        if not self.count:
            return 0.0
        under = int(np.searchsorted(self.lowest, threshold, side="right"))
        if under >= MIN_TAIL_COUNT or not math.isfinite(self.fit_sd):
            return under / self.count
        return NormalDist(self.fit_mean, self.fit_sd).cdf(threshold)

    def threshold_for(self, fmr: float) -> float:
        """The largest distance whose FMR (as ``fmr`` measures it) is at most ``fmr``."""
        if fmr * self.count >= MIN_TAIL_COUNT:
            index = int(math.floor(fmr * self.count))  # this many comparisons may fall at or under it
            return float(np.nextafter(self.lowest[index], -np.inf)) if index < len(self.lowest) else float(self.lowest[-1])
        if not math.isfinite(self.fit_sd):
            return float(np.nextafter(self.lowest[0], -np.inf)) if len(self.lowest) else math.inf
        fitted = NormalDist(self.fit_mean, self.fit_sd).inv_cdf(min(max(fmr, 1e-15), 0.5))
        # Counted comparisons still bound it: never past the MIN_TAIL_COUNT-th nearest stranger.
        bound = self.lowest[MIN_TAIL_COUNT - 1] if len(self.lowest) >= MIN_TAIL_COUNT else math.inf
        return float(max(0.0, min(fitted, np.nextafter(bound, -np.inf))))


@dataclass
class Calibration:
    """What calibration found for one school and model; ``threshold``/``margin`` are the recommendation."""

    model_id: str
    students: int
    photos: int
    students_with_pairs: int  # students with 2+ photos (the genuine comparisons)
    target_fpir: float
    threshold: float
    margin: float
    current: OperatingPoint
    expected_fpir: float | None
    expected_fnir: float | None
    current_fpir: float | None
    current_fnir: float | None
    reliable: bool
    message: str
    observed_fpir: float | None  # share of photos that a search without their own student names (counted)
    current_observed_fpir: float | None
    genuine: np.ndarray = field(repr=False)  # leave-one-out distance of each photo to its own student
    impostor_best: np.ndarray = field(repr=False)  # per photo: the nearest other student's distance
    histogram_edges: np.ndarray = field(repr=False)  # bins for charts: 0.01 wide over 0-2
    closest_pairs: list[ClosePair] = field(default_factory=list)
    impostor_comparisons: int = 0

    @property
    def recommended(self) -> OperatingPoint:
        return OperatingPoint(self.threshold, self.margin)


def calibrate(model_id: str, metric: str, combine: str, vectors: np.ndarray, student_keys: Sequence[object],
              photo_ids: Sequence[object], *, current: OperatingPoint, default: OperatingPoint,
              target_fpir: float = DEFAULT_TARGET_FPIR) -> Calibration:
    """Recommend a threshold and margin for a gallery of ``vectors`` (P, D), one per photo, of ``student_keys``.

    ``current`` is the point in use (for the "current" figures); ``default`` the model's measured point, kept
    when there are too few students with 2+ photos (``MIN_STUDENTS``). ``target_fpir`` is the share of
    strangers that may be named (0.001: one in a thousand).
    """
    if not 0.0 < target_fpir < 1.0:
        raise ValueError("target_fpir must be between 0 and 1")
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors = vectors.reshape(len(student_keys), -1) if len(student_keys) else vectors.reshape(0, vectors.shape[-1])
    gallery = Gallery(model_id, metric, vectors, list(student_keys), combine=combine)
    column = {key: i for i, key in enumerate(gallery.student_keys)}
    own = np.array([column[key] for key in student_keys], dtype=np.intp)
    genuine = leave_one_out_distances(gallery, vectors, student_keys)
    best, second, best_col, tail = _search_impostors(gallery, vectors, own)
    students, photos = len(gallery), len(student_keys)
    with_pairs = int(np.sum(np.bincount(own, minlength=students) >= MIN_PHOTOS_PER_STUDENT)) if photos else 0
    reliable = with_pairs >= MIN_STUDENTS
    if reliable:
        threshold = tail.threshold_for(target_fpir / students)
        message = (f"{students} students, {photos} photos: a threshold of {threshold:.3f} keeps the expected "
                   f"rate of naming the wrong person under {target_fpir:g}")
    else:
        threshold = default.threshold
        message = (f"too few students for a reliable estimate: {with_pairs} with {MIN_PHOTOS_PER_STUDENT}+ photos, "
                   f"need {MIN_STUDENTS}; keeping the model's default")
    margin = default.margin

    def fpir(point: OperatingPoint) -> float | None:
        return min(1.0, students * tail.fmr(point.threshold)) if tail.count else None

    def fnir(point: OperatingPoint) -> float | None:
        return miss_rate(genuine, best, point)

    def observed(point: OperatingPoint) -> float | None:
        return named_as_another_rate(best, second, point)

    recommended = OperatingPoint(threshold, margin)
    named = named_as_another_rate(best, second, recommended)
    if reliable and named:
        message += (f"; {named:.1%} of the enrolled photos would still be named as another student: "
                    "check the closest pairs (twins, or one child enrolled twice?)")
    return Calibration(
        model_id=model_id, students=students, photos=photos, students_with_pairs=with_pairs, target_fpir=target_fpir,
        threshold=threshold, margin=margin, current=current,
        expected_fpir=fpir(recommended), expected_fnir=fnir(recommended),
        current_fpir=fpir(current), current_fnir=fnir(current), reliable=reliable, message=message,
        observed_fpir=named, current_observed_fpir=observed(current),
        genuine=genuine[np.isfinite(genuine)], impostor_best=best[np.isfinite(best)],
        histogram_edges=np.linspace(0.0, 2.0, HISTOGRAM_BINS + 1), impostor_comparisons=tail.count,
        closest_pairs=find_closest_pairs(gallery, vectors, student_keys, photo_ids, best, best_col),
    )


def leave_one_out_distances(gallery: Gallery, vectors: np.ndarray, student_keys: Sequence[object]) -> np.ndarray:
    """Per photo: its distance to its own student's template made of the student's *other* photos (inf when
    the student has only this photo), combined as ``gallery`` combines them."""
    result = np.full(len(student_keys), np.inf)
    by_student: dict[object, list[int]] = {}
    for index, key in enumerate(student_keys):
        by_student.setdefault(key, []).append(index)
    for key, indices in by_student.items():
        if len(indices) < MIN_PHOTOS_PER_STUDENT:
            continue
        for index in indices:
            others = [i for i in indices if i != index]
            alone = Gallery(gallery.model_id, gallery.metric, vectors[others], [key] * len(others),
                            combine=gallery.combine)
            result[index] = float(alone.student_distances(vectors[index])[0, 0])
    return result


def miss_rate(genuine: np.ndarray, best_other: np.ndarray, point: OperatingPoint) -> float | None:
    """Share of photos (of students with 2+ photos) the cameras' search would not name as their own student.

    Each photo is searched against every other student plus its own leave-one-out template: it is named
    rightly when its own template is the nearest, within ``point.threshold``, ``point.margin`` ahead. With 2
    photos a student's leave-one-out template is one photo, weaker than the enrolled two: this overstates
    misses (bench/bench_calibration.py compares it with held-out photos).
    """
    usable = np.isfinite(genuine)
    if not usable.any():
        return None
    g, b = genuine[usable], best_other[usable]
    named_right = (g <= b) & (g <= point.threshold) & ((b - g) >= point.margin)
    return float(1.0 - named_right.mean())


def named_as_another_rate(best_other: np.ndarray, second_other: np.ndarray, point: OperatingPoint) -> float | None:
    """Share of photos that the cameras' search, with the photo's own student left out, would name anyway:
    the nearest other student within ``point.threshold`` and ``point.margin`` ahead of the next one. Counted,
    not extrapolated: at a gallery's size it resolves rates down to 1/photos only."""
    searched = np.isfinite(best_other)
    if not searched.any():
        return None
    best, second = best_other[searched], second_other[searched]
    return float(np.mean((best <= point.threshold) & ((second - best) >= point.margin)))


def _search_impostors(gallery: Gallery, vectors: np.ndarray, own: np.ndarray):
    """Per photo the nearest other student's distance, the next one's, the nearest's column; and the impostor
    comparisons' tail."""
    photos, students = len(own), len(gallery)
    best = np.full(photos, np.inf)
    second = np.full(photos, np.inf)  # stays inf with one other student: no next student, no margin test
    best_col = np.full(photos, -1, dtype=np.intp)
    lowest = np.zeros(0)
    count = 0
    for start in range(0, photos, _CHUNK_ROWS):
        rows = slice(start, min(start + _CHUNK_ROWS, photos))
        distances = gallery.student_distances(vectors[rows]).astype(np.float64)
        distances[np.arange(distances.shape[0]), own[rows]] = np.inf
        if students >= 2:
            two = np.argpartition(distances, 1, axis=1)[:, :2]
            pair = np.take_along_axis(distances, two, axis=1)
            swap = pair[:, 1] < pair[:, 0]
            two[swap], pair[swap] = two[swap][:, ::-1], pair[swap][:, ::-1]
            best_col[rows], best[rows], second[rows] = two[:, 0], pair[:, 0], pair[:, 1]
        values = distances[np.isfinite(distances)]
        count += values.size
        if len(lowest) >= KEEP_LOWEST:  # only comparisons nearer than the kept ones can join them
            values = values[values < lowest[-1]]
        merged = np.concatenate([lowest, values])
        if len(merged) > KEEP_LOWEST:
            merged = np.partition(merged, KEEP_LOWEST - 1)[:KEEP_LOWEST]
        lowest = np.sort(merged)
    tail = ImpostorTail(count, lowest)
    _fit_tail(tail)
    return best, second, best_col, tail


def _fit_tail(tail: ImpostorTail) -> None:
    """Fit N(mean, sd) to the lowest ``TAIL_SHARE`` of the comparisons (at most ``KEEP_LOWEST``) by their
    normal quantile plot: a straight line through (normal quantile of each one's rank, distance)."""
    points = min(len(tail.lowest), max(MIN_TAIL_POINTS, int(math.ceil(TAIL_SHARE * tail.count))))
    if points < MIN_TAIL_POINTS:
        return
    unit = NormalDist()
    first = MIN_TAIL_COUNT - 1  # the nearest few (one pair of twins, one child enrolled twice) do not bend it
    z = np.array([unit.inv_cdf((i + 0.5) / tail.count) for i in range(first, points)])
    x = tail.lowest[first:points]
    slope, intercept = np.polyfit(z, x, 1)
    if slope > 0:
        tail.fit_mean, tail.fit_sd = float(intercept), float(slope)


def find_closest_pairs(gallery: Gallery, vectors: np.ndarray, student_keys: Sequence[object],
                       photo_ids: Sequence[object], best: np.ndarray, best_col: np.ndarray,
                       limit: int = CLOSEST_PAIRS) -> list[ClosePair]:
    """The ``limit`` pairs of different students that come closest (each pair once), with the photos that do."""
    pairs: list[ClosePair] = []
    seen: set[frozenset] = set()
    for index in np.argsort(best, kind="stable"):
        if len(pairs) >= limit or not np.isfinite(best[index]):
            break
        other = gallery.student_keys[int(best_col[index])]
        pair = frozenset((student_keys[index], other))
        if pair in seen:
            continue
        seen.add(pair)
        candidates = [i for i, key in enumerate(student_keys) if key == other]
        near = min(candidates, key=lambda i: float(gallery_distance(gallery.metric, vectors[i], vectors[index])))
        pairs.append(ClosePair(student_keys[index], other, float(best[index]), photo_ids[index], photo_ids[near]))
    return pairs


def gallery_distance(metric: str, a: np.ndarray, b: np.ndarray) -> float:
    """The distance of two single vectors under ``metric`` ("euclidean" or "cosine")."""
    if metric == "cosine":
        return 1.0 - float(np.dot(a, b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))
