"""The rule that places shipped operating points (bench/operating_point.py): the split, and choosing on dev only."""

from __future__ import annotations

import numpy as np
import pytest

from attendance.gallery import OperatingPoint
from bench.operating_point import (
    BUDGET_SHARE, FPIR_BUDGET, HalfScores, TailModel, identity_half, place_point, rates, score_half,
    split_indices,
)

NAMES = [f"Person_{i:04d}" for i in range(400)]


def make_split(seed: int = 0, people: int = 120, strangers: int = 160, probes_each: int = 3, dim: int = 32):
    """A synthetic LFW-like split: ``people`` enrolled (2 photos + probes), ``strangers`` seen once."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people + strangers, dim))
    vectors, identities, roles = [], [], []
    for p in range(people + strangers):
        name = NAMES[p]
        photos = ["enroll", "enroll"] + ["probe_known"] * probes_each if p < people else ["probe_unknown"]
        for role in photos:
            vectors.append(centres[p] + rng.normal(scale=0.35, size=dim))
            identities.append(name)
            roles.append(role)
    vectors = np.array(vectors, dtype=np.float32)
    return vectors, np.ones(len(vectors), dtype=bool), identities, roles


def test_the_split_is_deterministic_disjoint_and_keeps_a_person_in_one_half():
    halves = [identity_half(n) for n in NAMES]
    assert halves == [identity_half(n) for n in NAMES]
    assert identity_half("Abdullah_Gul") == identity_half("Abdullah_Gul") in ("A", "B")
    share_a = halves.count("A") / len(halves)
    assert 0.4 < share_a < 0.6
    identities = [n for n in NAMES[:50] for _ in range(3)]
    parts = split_indices(identities)
    assert not set(parts["A"]) & set(parts["B"])
    assert sorted(np.concatenate([parts["A"], parts["B"]])) == list(range(len(identities)))
    for half, rows in parts.items():
        assert {identity_half(identities[i]) for i in rows} == {half}


def test_the_choice_never_reads_the_test_half():
    vectors, found, identities, roles = make_split()
    first = place_point(vectors, found, identities, roles, "cosine", "nearest")
    changed = vectors.copy()
    in_b = np.array([identity_half(i) == "B" for i in identities])
    changed[in_b] = np.random.default_rng(9).normal(size=changed[in_b].shape)  # the test half becomes noise
    found_b = found.copy()
    found_b[np.flatnonzero(in_b)[::4]] = False
    second = place_point(changed, found_b, identities, roles, "cosine", "nearest")
    assert second.shipped.point == first.shipped.point
    assert second.shipped.dev == first.shipped.dev
    assert second.folds["A"][1] != first.folds["A"][1]  # ...while the figures reported on B did change


def test_the_chosen_point_is_the_largest_threshold_within_half_the_budget():
    vectors, found, identities, roles = make_split(seed=3)
    placement = place_point(vectors, found, identities, roles, "cosine", "nearest")
    for choice, test in placement.folds.values():
        target = FPIR_BUDGET * BUDGET_SHARE
        assert choice.expected_dev_fpir <= target
        assert choice.point.margin > 0
        assert {"fnir", "fpir", "misidentified"} <= set(test)
        for _margin, threshold, _ in choice.candidates:
            assert threshold == pytest.approx(round(threshold, 3))
    halves = split_indices(identities)
    dev_scores = score_half(vectors, found, identities, roles, halves["A"], "cosine", "nearest")
    tail = TailModel(dev_scores.impostor)
    dev = placement.folds["A"][0]
    for margin, threshold, _ in dev.candidates:
        target = FPIR_BUDGET * BUDGET_SHARE
        assert tail.expected_fpir(threshold, margin, dev_scores.gallery_size) <= target
        assert tail.expected_fpir(threshold + 0.001, margin, dev_scores.gallery_size) > target
    assert dev.point in [OperatingPoint(t, m) for m, t, _ in dev.candidates]
    assert dev.dev["fnir"] == min(f for _, _, f in dev.candidates)


def test_the_tail_model_grows_with_threshold_and_gallery_and_shrinks_with_margin():
    impostor = np.sort(np.random.default_rng(1).normal(1.0, 0.1, size=20000))
    tail = TailModel(impostor)
    assert tail.mu == pytest.approx(1.0, abs=0.02) and tail.sigma == pytest.approx(0.1, abs=0.01)
    # Below every impostor seen, the fitted normal still gives a rate: never "just under the nearest one".
    assert tail.rate(impostor[0] - 0.05)[0] > 0
    fpir = [tail.expected_fpir(t, 0.02, 100) for t in (0.55, 0.6, 0.65)]
    assert fpir[0] < fpir[1] < fpir[2]
    assert tail.expected_fpir(0.6, 0.02, 1000) > tail.expected_fpir(0.6, 0.02, 100)
    assert tail.expected_fpir(0.6, 0.08, 1000) < tail.expected_fpir(0.6, 0.0, 1000)
    # With one person enrolled, the expected FPIR is the per-comparison rate itself.
    assert tail.expected_fpir(0.7, 0.0, 1) == pytest.approx(tail.rate(0.7)[0], rel=1e-3)


def test_the_tail_is_the_larger_of_the_data_and_the_fit():
    heavy = np.sort(np.concatenate([np.full(50, 0.3), np.random.default_rng(2).normal(1.0, 0.1, size=9950)]))
    tail = TailModel(heavy)
    assert tail.rate(0.31)[0] >= 50 / 10000


def test_rates_count_no_face_as_a_miss_and_a_wrong_name_as_misidentified():
    scores = HalfScores(
        gallery_size=3,
        best=np.array([0.2, 0.2, np.inf, 0.9, 0.3]),
        margin=np.array([0.1, 0.1, 0.0, 0.1, 0.1]),
        right=np.array([True, False, False, False, False]),
        known=np.array([True, True, True, False, False]),
        impostor=np.linspace(0.5, 1.5, 30),
    )
    result = rates(scores, OperatingPoint(0.5, 0.05))
    assert result["fnir"] == pytest.approx(2 / 3)
    assert result["misidentified"] == pytest.approx(1 / 3)
    assert result["fpir"] == pytest.approx(0.5) and result["strangers_named"] == 1
