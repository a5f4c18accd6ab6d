"""The rule that places a model's shipped operating point: chosen on one half of the LFW identities, reported
on the other.

Rule ``split-half-tail v1`` (every model is placed the same way, by ``place_point``):

1. **Split.** Each identity of ``../shared/faces/lfw/split.csv`` (enrolled people and strangers alike) goes to
   half A or B by the first byte of the sha256 of its name (even: A). Deterministic, disjoint, and a
   person's photos never straddle the halves. Each half is its own open-set protocol: its enrolled people
   make the gallery, its known probes must be named, its strangers must not be.
2. **Impostor scores on the dev half.** Every dev probe (stranger or known) against every dev enrolled
   person other than itself: the student-level distances ``Gallery.student_distances`` gives with the
   model's ``combine`` rule. That is about 120 times more comparisons than there are searches.
3. **Smoothed tail.** The per-comparison false-match rate ``p(x)`` is the larger of the empirical share of
   impostor scores <= x and a normal fitted to the lowest 5% of them (least squares on normal scores). The
   fit gives a rate below the nearest impostor seen, so no threshold lands "just under the nearest
   stranger"; taking the larger of the two keeps a heavier-than-normal tail where there is data.
4. **Expected FPIR for a gallery of N people**, threshold ``t`` and margin ``m``, comparisons taken as
   independent: ``N * integral_{x <= t} (1 - p(x + m))^(N - 1) dp(x)`` (a stranger is named when one person
   is within ``t`` and every other is at least ``m`` further). ``N`` is the dev gallery's size.
5. **Choice.** For each margin of ``MARGIN_GRID``, the largest threshold (0.001 steps) whose expected FPIR
   stays at or under half the 0.3% budget; of those points, the one with the lowest FNIR on the dev half
   (ties: the smaller margin). A margin is always kept (>= 0.01) so two students at nearly equal
   distances are never told apart by chance.
6. **Report** FNIR, FPIR and misidentifications on the *other* half, which the choice never read; the
   reverse fold (choose on B, report on A) is the cross-check. The shipped point is fold A -> B.

FNIR: known probes not named as themselves (no face found, unknown, or named as someone else). FPIR:
strangers given any name. Misidentified: known probes named as another enrolled person.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from attendance.gallery import Gallery, OperatingPoint

RULE_NAME = "split-half-tail v1"
FPIR_BUDGET = 0.003
BUDGET_SHARE = 0.5
MARGIN_GRID = (0.01, 0.02, 0.03, 0.05, 0.08)
TAIL_SHARE = 0.05
THRESHOLD_STEP = 0.001
HALVES = ("A", "B")


def identity_half(identity: str) -> str:
    """``A`` or ``B``: the half of the split ``identity`` belongs to (first byte of its name's sha256, even: A)."""
    return HALVES[hashlib.sha256(identity.encode("utf-8")).digest()[0] & 1]


def split_indices(identities: Sequence[str]) -> dict[str, np.ndarray]:
    """Row indices per half, for rows whose identities are ``identities``."""
    halves = np.array([identity_half(i) for i in identities])
    return {h: np.flatnonzero(halves == h) for h in HALVES}


@dataclass
class HalfScores:
    """One half's open-set search results at no threshold: what every rate below is computed from."""

    gallery_size: int
    best: np.ndarray  # per probe: distance to the nearest enrolled person (inf: no face found)
    margin: np.ndarray  # per probe: next person's distance minus ``best``
    right: np.ndarray  # per probe: the nearest person is the probe's own identity
    known: np.ndarray  # per probe: the probe's identity is enrolled in this half
    impostor: np.ndarray  # sorted distances of every probe to every enrolled person other than itself


def score_half(vectors: np.ndarray, found: np.ndarray, identities: Sequence[str], roles: Sequence[str],
               indices: np.ndarray, metric: str, combine: str) -> HalfScores:
    """Search each probe row of ``indices`` against the gallery of that half's ``enroll`` rows (faces found)."""
    identities = np.asarray(identities)
    roles = np.asarray(roles)
    enroll = indices[(roles[indices] == "enroll") & found[indices]]
    probes = indices[roles[indices] != "enroll"]
    gallery = Gallery("bench", metric, vectors[enroll], list(identities[enroll]), combine=combine)
    keys = np.array(gallery.student_keys)
    n = len(probes)
    best, margin = np.full(n, np.inf), np.zeros(n)
    right = np.zeros(n, dtype=bool)
    known = np.isin(identities[probes], keys)
    ok = found[probes]
    distances = gallery.student_distances(vectors[probes[ok]])
    if len(keys) and ok.any():
        order = np.argsort(distances, axis=1)
        rows = np.arange(len(distances))
        best[ok] = distances[rows, order[:, 0]]
        margin[ok] = distances[rows, order[:, 1]] - best[ok] if len(keys) > 1 else np.inf
        right[ok] = keys[order[:, 0]] == identities[probes[ok]]
    own = keys[None, :] == identities[probes[ok]][:, None]
    impostor = np.sort(distances[~own])
    return HalfScores(len(keys), best, margin, right, known, impostor)


def rates(scores: HalfScores, point: OperatingPoint) -> dict[str, float]:
    """FNIR, FPIR and misidentified share at ``point``, with the counts behind them."""
    named = (scores.best <= point.threshold) & (scores.margin >= point.margin)
    k, u = scores.known, ~scores.known
    return {
        "fnir": 1.0 - float(np.mean(named[k] & scores.right[k])) if k.any() else 0.0,
        "fpir": float(np.mean(named[u])) if u.any() else 0.0,
        "misidentified": float(np.mean(named[k] & ~scores.right[k])) if k.any() else 0.0,
        "strangers_named": int(np.sum(named[u])),
        "strangers": int(np.sum(u)),
        "known_probes": int(np.sum(k)),
        "gallery_size": scores.gallery_size,
    }


class TailModel:
    """The per-comparison false-match rate ``p(x)`` of step 3, from sorted impostor distances."""

    def __init__(self, impostor_sorted: np.ndarray, tail_share: float = TAIL_SHARE) -> None:
        self.sorted = np.asarray(impostor_sorted, dtype=np.float64)
        m = len(self.sorted)
        if m < 20:
            raise ValueError(f"too few impostor comparisons to model the tail ({m})")
        count = max(10, int(m * tail_share))
        z = np.array([NormalDist().inv_cdf((i + 0.5) / m) for i in range(count)])
        sigma, mu = np.polyfit(z, self.sorted[:count], 1)
        self.mu, self.sigma = float(mu), float(max(sigma, 1e-9))

    def rate(self, x: np.ndarray | float) -> np.ndarray:
        """p(x): the larger of the empirical and the fitted share of impostor distances <= x."""
        x = np.atleast_1d(np.asarray(x, dtype=np.float64))
        empirical = np.searchsorted(self.sorted, x, side="right") / len(self.sorted)
        fitted = np.array([0.5 * math.erfc(-(v - self.mu) / (self.sigma * math.sqrt(2))) for v in x])
        return np.maximum(empirical, fitted)

    def expected_fpir(self, threshold: float, margin: float, gallery_size: int, step: float = 0.0005) -> float:
        """Step 4: the expected share of strangers named in a gallery of ``gallery_size`` people."""
        low = min(self.mu - 8 * self.sigma, float(self.sorted[0])) - step
        if threshold <= low:
            return 0.0
        edges = np.append(np.arange(low, threshold, step), threshold)
        cdf = self.rate(edges)
        mids = (edges[:-1] + edges[1:]) / 2
        others_far = (1.0 - self.rate(mids + margin)) ** max(0, gallery_size - 1)
        return float(min(1.0, gallery_size * np.sum(np.diff(cdf) * others_far)))


@dataclass
class Choice:
    """A placed point and the dev figures it was chosen by."""

    point: OperatingPoint
    expected_dev_fpir: float
    dev: dict[str, float]
    candidates: list[tuple[float, float, float]]  # (margin, threshold, dev FNIR) per margin of the grid


def choose_point(dev: HalfScores, budget: float = FPIR_BUDGET, share: float = BUDGET_SHARE,
                 margins: Sequence[float] = MARGIN_GRID, step: float = THRESHOLD_STEP) -> Choice:
    """Step 5 on the dev half only: the point this rule ships."""
    tail = TailModel(dev.impostor)
    target = budget * share
    candidates = []
    best: tuple[float, OperatingPoint, float] | None = None
    for margin in margins:
        threshold = _largest_threshold(tail, margin, dev.gallery_size, target, step)
        point = OperatingPoint(threshold, float(margin))
        fnir = rates(dev, point)["fnir"]
        candidates.append((float(margin), threshold, fnir))
        if best is None or fnir < best[0] - 1e-12:
            best = (fnir, point, tail.expected_fpir(threshold, margin, dev.gallery_size))
    _, point, expected = best
    return Choice(point, expected, rates(dev, point), candidates)


def _largest_threshold(tail: TailModel, margin: float, gallery_size: int, target: float, step: float) -> float:
    """The largest multiple of ``step`` whose expected FPIR is <= ``target`` (bisection; FPIR grows with t)."""
    lo = math.floor((tail.mu - 8 * tail.sigma) / step)
    hi = math.ceil(float(tail.sorted[-1]) / step)
    if tail.expected_fpir(lo * step, margin, gallery_size) > target:
        return lo * step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if tail.expected_fpir(mid * step, margin, gallery_size) <= target:
            lo = mid
        else:
            hi = mid
    return round(lo * step, 6)


@dataclass
class Placement:
    """Both folds of the rule for one model: the shipped point is ``folds["A"]`` (chosen on A, reported on B)."""

    folds: dict[str, tuple[Choice, dict[str, float]]]  # dev half -> (choice on it, rates on the other half)

    @property
    def shipped(self) -> Choice:
        return self.folds["A"][0]


def place_point(vectors: np.ndarray, found: np.ndarray, identities: Sequence[str], roles: Sequence[str],
                metric: str, combine: str, **rule: float) -> Placement:
    """The rule for one model's vectors of the LFW split: each half chooses, the other reports."""
    halves = split_indices(identities)
    scores = {h: score_half(vectors, found, identities, roles, idx, metric, combine) for h, idx in halves.items()}
    folds = {}
    for dev, test in (("A", "B"), ("B", "A")):
        choice = choose_point(scores[dev], **rule)
        folds[dev] = (choice, rates(scores[test], choice.point))
    return Placement(folds)


def describe_source(placement: Placement, pipeline: str, data: str = "../shared/faces/lfw/split.csv") -> str:
    """The manifest's ``threshold_source`` text for a placed point."""
    choice, test = placement.folds["A"]
    return (f"{RULE_NAME} (bench/operating_point.py, python -m bench.place_points): chosen on LFW half A of {data} "
            f"({choice.dev['gallery_size']} people, {choice.dev['strangers']} strangers; dev FNIR "
            f"{choice.dev['fnir']:.1%}, FPIR {choice.dev['fpir']:.2%}), measured on half B ({test['gallery_size']} "
            f"people, {test['strangers']} strangers): FNIR {test['fnir']:.1%}, FPIR {test['fpir']:.2%}; {pipeline}")
