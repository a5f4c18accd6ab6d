"""The gallery matcher's open-set decision, on synthetic vectors (no model needed)."""

import numpy as np
import pytest

from attendance.gallery import Gallery, OperatingPoint
from conftest import make_embedding

POINT = OperatingPoint(threshold=0.5, margin=0.05)


def people_gallery(combine="nearest", metric="euclidean"):
    vectors, keys = [], []
    for person in range(20):
        base = make_embedding(person, scale=0.2)
        for shot in range(2):
            vectors.append(base + make_embedding(1000 + person * 10 + shot, scale=0.01))
            keys.append(f"S{person:02d}")
    return Gallery("test", metric, np.stack(vectors), keys, combine=combine)


@pytest.mark.parametrize("combine", ["nearest", "mean", "centroid"])
def test_an_enrolled_person_is_named(combine):
    gallery = people_gallery(combine)
    probe = make_embedding(7, scale=0.2) + make_embedding(99, scale=0.01)
    [match] = gallery.search(probe, POINT)
    assert match.student_key == "S07" and match.best_key == "S07"
    assert match.distance < 0.5 and match.margin > 0.05


def test_a_stranger_is_unknown_however_many_are_enrolled():
    gallery = people_gallery()
    [match] = gallery.search(make_embedding(5000, scale=0.2), POINT)
    assert match.student_key is None and match.best_key is not None
    assert match.distance > POINT.threshold


def test_an_ambiguous_face_is_unknown_even_under_the_threshold():
    a, b = make_embedding(1, scale=0.2), make_embedding(2, scale=0.2)
    gallery = Gallery("test", "euclidean", np.stack([a, b]), ["A", "B"])
    [match] = gallery.search((a + b) / 2, OperatingPoint(threshold=10.0, margin=0.05))
    assert match.student_key is None and match.margin < 0.05


def test_distances_match_a_direct_computation():
    gallery = people_gallery()
    probe = make_embedding(3, scale=0.2)
    expected = min(np.linalg.norm(gallery.matrix[i] - probe) for i in range(6, 8))
    distances = gallery.student_distances(probe)[0]
    assert distances[3] == pytest.approx(expected, abs=1e-5)


def test_cosine_metric_and_empty_gallery():
    gallery = people_gallery(metric="cosine")
    [match] = gallery.search(make_embedding(4, scale=0.2), OperatingPoint(0.3, 0.02))
    assert match.student_key == "S04"
    empty = Gallery("test", "euclidean", np.zeros((0, 128), np.float32), [])
    [match] = empty.search(make_embedding(1), POINT)
    assert match.student_key is None and match.distance == float("inf") and len(empty) == 0


def test_batch_search_keeps_query_order():
    gallery = people_gallery()
    probes = np.stack([make_embedding(p, scale=0.2) for p in (2, 9, 4)])
    assert [m.student_key for m in gallery.search(probes, POINT)] == ["S02", "S09", "S04"]
