"""Voting across a track: many embeddings of one face become one decision, a student or unknown, made once.

Each embedding of a track is searched in the gallery with the model's operating point (threshold and
margin); a named result is a vote for that student, weighted by the face's quality. A track is named when
one student has at least ``min_votes`` votes and ``min_share`` of the named-vote weight, so one lucky
frame never checks a child in and two students' votes never add up to a decision. A track that ends
without a name, after at least ``min_embeddings_for_unknown`` embeddings, is an unknown face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from attendance.faces.types import FaceQuality


@dataclass(frozen=True)
class VotingRule:
    """When a track is decided; see the module docstring."""

    min_votes: int = 2
    min_share: float = 0.6
    min_embeddings_for_unknown: int = 3
    give_up_distance: float = float("inf")  # embeddings this far from every student are a stranger's...
    give_up_after: int = 3  # ...and after this many in a row the track is not embedded any more


@dataclass(frozen=True)
class Vote:
    """One embedding's gallery result. ``student_code`` is None when it named nobody."""

    student_code: str | None
    best_code: str | None
    distance: float
    margin: float
    weight: float


@dataclass(frozen=True)
class Verdict:
    """A track's decision: a student (``student_code``) or unknown (None), with the evidence behind it."""

    student_code: str | None
    votes: int  # votes for the winner (0 for unknown)
    embeddings: int
    distance: float  # mean distance of the winning votes; unknown: the best distance seen
    margin: float  # mean margin of the winning votes; unknown: the margin of that best vote
    nearest_code: str | None = None  # unknown: the student nearest to that best vote (for the admin who reviews)


def quality_weight(quality: FaceQuality, min_face_px: float = 60.0) -> float:
    """A vote's weight in (0, 1]: bigger, sharper, more frontal faces count more. Typical: 0.3-1.

    Sharpness counts fully from 100 up: any face that sharp may vote with full weight.
    """
    sharp = min(1.0, max(0.25, quality.sharpness / 100.0))
    return _size_factor(quality, min_face_px) * sharp * _frontal_factor(quality)


def score_candidate(quality: FaceQuality, min_face_px: float = 60.0) -> float:
    """Which face of a track's embedding window to embed: the sharpest, unless it is much smaller or turned.

    The sharpness (Laplacian variance of the chip, ~2 out of focus to ~1300 for a sharp face in video) is
    not capped here as it is in ``quality_weight``: every in-focus video face measures over 100, so a cap
    would leave size and pose alone to choose, and blur costs recognition most. Size and pose scale it by
    the vote weight's factors (0.25-1 each).
    """
    return max(0.0, quality.sharpness) * _size_factor(quality, min_face_px) * _frontal_factor(quality)


def _size_factor(quality: FaceQuality, min_face_px: float) -> float:
    return min(1.0, max(0.25, quality.face_px / (2.0 * min_face_px)))


def _frontal_factor(quality: FaceQuality) -> float:
    return max(0.25, math.cos(math.radians(min(abs(quality.yaw_deg), 90.0))))


@dataclass
class TrackVotes:
    """The votes of one track so far."""

    votes: list[Vote] = field(default_factory=list)

    def add(self, vote: Vote) -> None:
        self.votes.append(vote)

    def __len__(self) -> int:
        return len(self.votes)

    def named_verdict(self, rule: VotingRule) -> Verdict | None:
        """The student this track is, once the votes agree enough; None while undecided."""
        weights: dict[str, float] = {}
        counts: dict[str, int] = {}
        for vote in self.votes:
            if vote.student_code is not None:
                weights[vote.student_code] = weights.get(vote.student_code, 0.0) + vote.weight
                counts[vote.student_code] = counts.get(vote.student_code, 0) + 1
        if not weights:
            return None
        winner = max(weights, key=lambda code: (weights[code], counts[code], code))
        if counts[winner] < rule.min_votes or weights[winner] < rule.min_share * sum(weights.values()):
            return None
        won = [v for v in self.votes if v.student_code == winner]
        return Verdict(winner, len(won), len(self.votes), sum(v.distance for v in won) / len(won),
                       sum(v.margin for v in won) / len(won))

    def hopeless(self, rule: VotingRule) -> bool:
        """True when the last ``give_up_after`` votes were all far from every student: a stranger, most likely,
        so more embeddings would only spend CPU."""
        recent = self.votes[-rule.give_up_after:]
        return len(recent) >= rule.give_up_after and all(
            v.student_code is None and v.distance > rule.give_up_distance for v in recent)

    def final_verdict(self, rule: VotingRule) -> Verdict | None:
        """At the end of the track: the named verdict, else unknown when there was enough evidence, else None."""
        named = self.named_verdict(rule)
        if named is not None:
            return named
        if len(self.votes) < rule.min_embeddings_for_unknown:
            return None
        best = min(self.votes, key=lambda v: v.distance)
        return Verdict(None, 0, len(self.votes), best.distance, best.margin, best.best_code)
