"""The per-track liveness verdict: the rules alone, and in the pipeline on the embedding candidates (fake networks)."""

from __future__ import annotations

import numpy as np
import pytest
from test_agent_pipeline import STUDENT_LEVEL, config, fake_engine, run, scene

from attendance.faces.liveness import LivenessChecker
from camera_agent.pipeline import Pipeline
from camera_agent.spoof import ATTACK, LIVE, MAX_TRACKS, UNSURE, SpoofRule, TrackLiveness, judge_track

RULE = SpoofRule(threshold=0.05)


@pytest.mark.parametrize("scores, cues, verdict", [
    ([], {"frames": 10}, UNSURE),
    ([0.9, 0.8, 0.95], {"frames": 12, "landmark_motion": 0.02}, LIVE),
    ([0.01, 0.02], {"frames": 12, "landmark_motion": 0.001}, ATTACK),
    ([0.01, 0.02], {"frames": 3}, ATTACK),  # too few frames for motion to say anything
    ([0.01, 0.02], {"frames": 12, "landmark_motion": 0.05}, UNSURE),  # model and motion disagree
    ([0.9, 0.01, 0.9], {"frames": 12, "landmark_motion": 0.001}, UNSURE),  # rigid, and one frame looked like a photo
    ([0.9, 0.01, 0.9], {"frames": 12, "landmark_motion": 0.02}, LIVE),
])
def test_judge_track(scores, cues, verdict):
    result = judge_track(scores, cues, RULE)
    assert result["verdict"] == verdict
    assert result["spoof_frames"] == len(scores) and result["spoof_threshold"] == 0.05
    assert all(isinstance(v, (int, float, str)) for v in result.values())  # the event's liveness is flat
    if scores:
        assert result["spoof_score_mean"] == pytest.approx(np.mean(scores), abs=1e-4)


class ConstantNetwork:
    """A stand-in MiniFASNet: the same live probability for every crop; counts its batches."""

    def __init__(self, scale: float, live: float) -> None:
        self.scale, self.live, self.batches = scale, live, []

    def predict(self, crops_bgr):
        self.batches.append(len(crops_bgr))
        n = len(crops_bgr)
        return np.tile(np.array([[1 - self.live, self.live, 0.0]], np.float32), (n, 1))


def liveness_step(live: float) -> tuple[TrackLiveness, list[ConstantNetwork]]:
    networks = [ConstantNetwork(2.7, live), ConstantNetwork(4.0, live)]
    return TrackLiveness(LivenessChecker(networks, threshold=0.05)), networks


@pytest.mark.parametrize("live, verdict", [(0.9, LIVE), (0.01, ATTACK)])
def test_pipeline_scores_only_the_embedding_candidates_and_sends_the_verdict(live, verdict):
    step, networks = liveness_step(live)
    pipeline = Pipeline(fake_engine(), config(), step)
    [(_, decision)] = run(pipeline, scene([(STUDENT_LEVEL, 0, 40)], 50))
    assert decision.kind == "checkin"
    assert decision.liveness["verdict"] == verdict
    assert decision.liveness["spoof_frames"] == pipeline.embeddings_total == 2  # one score per embedding
    assert decision.liveness["frames"] >= 4  # the motion cues are still there
    assert networks[0].batches == [1, 1]  # scored with the embedding batches, nothing else
    assert pipeline.stage_ms["liveness"] > 0
    assert not step.scores and not step.pending  # the decided track is forgotten


def test_two_people_in_one_frame_are_scored_in_one_batch():
    step, networks = liveness_step(0.9)
    pipeline = Pipeline(fake_engine(), config())
    pipeline.liveness = step
    run(pipeline, scene([(STUDENT_LEVEL, 0, 40), (200, 0, 40)], 50, size=(480, 240)))
    assert 2 in networks[0].batches


def test_per_track_state_is_bounded():
    step, _ = liveness_step(0.9)
    image = np.full((100, 100, 3), 50, np.uint8)
    for track_id in range(MAX_TRACKS + 10):
        step.offer(track_id, image, (30, 30, 60, 60))
    assert len(step.pending) == MAX_TRACKS and 0 not in step.pending
    step.score(list(range(MAX_TRACKS + 10)))
    assert len(step.scores) == MAX_TRACKS and not step.pending
