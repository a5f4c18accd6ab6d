"""The gallery matcher: 1:N search of face vectors against enrolled students, with an open-set decision.

Pure numpy. Every template of one model sits in one contiguous (N, D) float32 matrix, grouped by student,
so a search is one matrix product plus a per-student reduction. The decision names a student only when
the best distance is under the threshold *and* the next-best other student is at least ``margin`` further
away; otherwise the face is unknown. That second condition is what keeps a stranger from being named as
whoever happens to be nearest in a gallery of hundreds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

COMBINE_RULES = ("nearest", "mean", "centroid")


@dataclass(frozen=True)
class OperatingPoint:
    """When to name a face: distance at most ``threshold`` and margin to the next student at least ``margin``."""

    threshold: float
    margin: float


@dataclass(frozen=True)
class Match:
    """The result of one search. ``student_key`` is None when the face is unknown."""

    student_key: object | None
    best_key: object | None  # the nearest student, named or not
    distance: float  # distance to the nearest student (inf for an empty gallery)
    margin: float  # distance to the next other student minus ``distance`` (inf when there is none)

    @property
    def is_known(self) -> bool:
        return self.student_key is not None


class Gallery:
    """Templates of one model, searchable by student.

    ``keys`` identify students (database ids, codes...); ``combine`` says how a student's several templates
    make one distance: ``nearest`` (the closest template), ``mean`` (the mean of the distances) or
    ``centroid`` (distance to the normalised mean template).
    """

    def __init__(self, model_id: str, metric: str, vectors: np.ndarray, keys: Sequence[object],
                 combine: str = "nearest") -> None:
        if metric not in ("euclidean", "cosine"):
            raise ValueError(f"unknown metric {metric!r}")
        if combine not in COMBINE_RULES:
            raise ValueError(f"unknown combine rule {combine!r}")
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(keys), -1) if len(keys) else np.zeros((0, 0), np.float32)
        self.model_id = model_id
        self.metric = metric
        self.combine = combine
        order = sorted(range(len(keys)), key=lambda i: str(keys[i]))
        sorted_keys = [keys[i] for i in order]
        self.student_keys: list[object] = []
        starts: list[int] = []
        for i, key in enumerate(sorted_keys):
            if not self.student_keys or self.student_keys[-1] != key:
                self.student_keys.append(key)
                starts.append(i)
        self._starts = np.array(starts, dtype=np.intp)
        self._counts = np.diff(np.append(self._starts, len(sorted_keys))) if starts else np.zeros(0, np.intp)
        matrix = vectors[order] if len(order) else vectors
        if metric == "cosine" and len(matrix):
            matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        if combine == "centroid" and len(matrix):
            matrix = np.add.reduceat(matrix, self._starts, axis=0) / self._counts[:, None]
            if metric == "cosine":
                matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self._sq_norms = (self.matrix.astype(np.float64) ** 2).sum(axis=1)

    def __len__(self) -> int:
        return len(self.student_keys)

    @property
    def template_count(self) -> int:
        return int(self._counts.sum()) if self.combine != "centroid" else len(self.student_keys)

    def student_distances(self, queries: np.ndarray) -> np.ndarray:
        """Distances (Q, S) from each query vector to each student, combined per ``combine``."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if not len(self.student_keys):
            return np.zeros((len(queries), 0))
        raw = self._template_distances(queries)
        if self.combine == "centroid":
            return raw
        if self.combine == "nearest":
            return np.minimum.reduceat(raw, self._starts, axis=1)
        return np.add.reduceat(raw, self._starts, axis=1) / self._counts[None, :]

    def search(self, queries: np.ndarray, point: OperatingPoint) -> list[Match]:
        """The open-set decision for each query vector (Q, D) or (D,)."""
        distances = self.student_distances(queries)
        return [self._decide(row, point) for row in distances]

    def _decide(self, row: np.ndarray, point: OperatingPoint) -> Match:
        if row.size == 0:
            return Match(None, None, float("inf"), float("inf"))
        if row.size == 1:
            best, margin = 0, float("inf")
        else:
            two = np.argpartition(row, 1)[:2]
            best, second = (two[0], two[1]) if row[two[0]] <= row[two[1]] else (two[1], two[0])
            margin = float(row[second] - row[best])
        distance = float(row[best])
        key = self.student_keys[best]
        named = distance <= point.threshold and margin >= point.margin
        return Match(key if named else None, key, distance, margin)

    def _template_distances(self, queries: np.ndarray) -> np.ndarray:
        if self.metric == "cosine":
            q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
            return 1.0 - q.astype(np.float64) @ self.matrix.T.astype(np.float64)
        q = queries.astype(np.float64)
        squared = (q ** 2).sum(axis=1)[:, None] + self._sq_norms[None, :] - 2.0 * q @ self.matrix.T.astype(np.float64)
        return np.sqrt(np.maximum(squared, 0.0))
