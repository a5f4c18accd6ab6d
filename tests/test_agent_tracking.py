"""The agent's tracker, voting and liveness cues, on synthetic boxes and votes (no model, no camera)."""

import pickle

import numpy as np
import pytest

from attendance.faces.types import FaceQuality
from camera_agent.liveness import LivenessCues
from camera_agent.tracker import IouTracker, iou
from camera_agent.voting import TrackVotes, Vote, VotingRule, quality_weight, score_candidate


def moving(box, dx, steps):
    x1, y1, x2, y2 = box
    return [(x1 + dx * i, y1, x2 + dx * i, y2) for i in range(steps)]


def test_iou_of_equal_disjoint_and_half_overlapping_boxes():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)


def test_a_moving_face_keeps_one_track():
    tracker = IouTracker(min_iou=0.3, max_missed_frames=2)
    ids = {tracker.update([box], n).tracks[0].track_id for n, box in enumerate(moving((100, 100, 180, 180), 4, 20))}
    assert ids == {1}


def test_two_faces_get_two_tracks_and_keep_them_when_listed_in_another_order():
    tracker = IouTracker()
    a, b = (0, 0, 50, 50), (200, 0, 250, 50)
    first = tracker.update([a, b], 0).tracks
    second = tracker.update([b, a], 1).tracks
    assert [t.track_id for t in first] == [1, 2]
    assert [t.track_id for t in second] == [2, 1]


def test_a_track_ends_after_max_missed_frames_and_a_returning_face_gets_a_new_track():
    tracker = IouTracker(max_missed_frames=2)
    tracker.update([(0, 0, 50, 50)], 0)
    assert tracker.update([], 1).ended == []
    assert tracker.update([], 2).ended == []
    ended = tracker.update([], 3).ended
    assert [t.track_id for t in ended] == [1] and not tracker.live
    assert tracker.update([(0, 0, 50, 50)], 4).tracks[0].track_id == 2


def test_a_jump_too_far_starts_a_new_track():
    tracker = IouTracker(min_iou=0.3)
    tracker.update([(0, 0, 50, 50)], 0)
    assert tracker.update([(100, 100, 150, 150)], 1).tracks[0].track_id == 2


def test_end_all_ends_every_live_track():
    tracker = IouTracker()
    tracker.update([(0, 0, 50, 50), (100, 0, 150, 50)], 0)
    assert len(tracker.end_all()) == 2 and not tracker.live


def vote(code, distance=0.3, weight=1.0, best=None):
    return Vote(code, best or code, distance, 0.2, weight)


RULE = VotingRule(min_votes=2, min_share=0.6, min_embeddings_for_unknown=3, give_up_distance=0.65, give_up_after=3)


def test_one_vote_is_not_enough_two_consistent_votes_name_the_track():
    votes = TrackVotes()
    votes.add(vote("HS1", 0.30))
    assert votes.named_verdict(RULE) is None
    votes.add(vote(None, 0.50, best="HS1"))
    assert votes.named_verdict(RULE) is None
    votes.add(vote("HS1", 0.40))
    verdict = votes.named_verdict(RULE)
    assert verdict.student_code == "HS1" and verdict.votes == 2 and verdict.embeddings == 3
    assert verdict.distance == pytest.approx(0.35)


def test_split_votes_between_two_students_decide_nothing():
    votes = TrackVotes()
    for code in ("HS1", "HS2", "HS1", "HS2"):
        votes.add(vote(code))
    assert votes.named_verdict(RULE) is None
    assert votes.final_verdict(RULE).student_code is None  # ends as unknown


def test_votes_are_weighted_by_quality():
    votes = TrackVotes()
    votes.add(vote("HS1", weight=1.0))
    votes.add(vote("HS1", weight=1.0))
    votes.add(vote("HS2", weight=0.25))
    votes.add(vote("HS2", weight=0.25))
    assert votes.named_verdict(RULE).student_code == "HS1"


def test_a_track_ending_unnamed_is_unknown_only_after_enough_embeddings():
    votes = TrackVotes()
    votes.add(vote(None, 0.8, best="HS1"))
    votes.add(vote(None, 0.7, best="HS2"))
    assert votes.final_verdict(RULE) is None
    votes.add(vote(None, 0.9, best="HS1"))
    verdict = votes.final_verdict(RULE)
    assert verdict.student_code is None and verdict.distance == pytest.approx(0.7)
    assert verdict.nearest_code == "HS2"  # the student nearest to the best vote: a hint for the reviewer


def test_a_track_far_from_everyone_is_given_up_but_a_near_miss_is_not():
    far, near = TrackVotes(), TrackVotes()
    for _ in range(3):
        far.add(vote(None, 0.8, best="HS1"))
        near.add(vote(None, 0.5, best="HS1"))
    assert far.hopeless(RULE) and not near.hopeless(RULE)


def test_quality_weight_prefers_big_sharp_frontal_faces():
    good = quality_weight(FaceQuality(130, 150, 0, 0, 0.7))
    small = quality_weight(FaceQuality(60, 150, 0, 0, 0.7))
    turned = quality_weight(FaceQuality(130, 150, 50, 0, 0.7))
    blurred = quality_weight(FaceQuality(130, 5, 0, 0, 0.7))
    assert good == pytest.approx(1.0)
    assert 0 < small < good and 0 < turned < good and 0 < blurred < good


def test_the_embedding_candidate_is_chosen_by_sharpness_beyond_the_vote_weights_cap():
    sharp_small = FaceQuality(80, 900, 0, 0, 0.7)
    soft_big = FaceQuality(130, 150, 0, 0, 0.7)  # over 100: votes with full weight, but blurred beside the other
    assert quality_weight(soft_big) > quality_weight(sharp_small)
    assert score_candidate(sharp_small) > score_candidate(soft_big)
    assert score_candidate(FaceQuality(130, 900, 0, 0, 0.7)) > score_candidate(FaceQuality(130, 900, 50, 0, 0.7))
    assert score_candidate(FaceQuality(130, 900, 0, 0, 0.7)) > score_candidate(FaceQuality(70, 900, 0, 0, 0.7))


def landmarks_in(box, jitter=0.0, rng=None):
    x1, y1, x2, _ = box
    side = x2 - x1
    rel = np.array([[0.3, 0.4], [0.4, 0.4], [0.6, 0.4], [0.7, 0.4], [0.5, 0.6]])
    if jitter:
        rel = rel + rng.normal(0, jitter, rel.shape)
    return rel * side + (x1, y1)


def test_liveness_cues_tell_an_approaching_face_from_a_rigid_photo():
    rng = np.random.default_rng(0)
    live, photo = LivenessCues(), LivenessCues()
    for i in range(20):
        box = (100 + 3 * i, 80, 180 + 5 * i, 160 + 2 * i)  # grows: the child walks in
        live.observe(box, landmarks_in(box, 0.03, rng), yaw_deg=-10 + i)
        held = (100 + i, 80, 180 + i, 160)  # a photo slid sideways, same size
        photo.observe(held, landmarks_in(held), yaw_deg=0.0)
    live_cues, photo_cues = live.as_dict(), photo.as_dict()
    assert live_cues["frames"] == 20
    assert live_cues["size_change"] > 1.2 and photo_cues["size_change"] == pytest.approx(1.0)
    assert live_cues["landmark_motion"] > 0.01 > photo_cues["landmark_motion"]
    assert live_cues["yaw_range_deg"] == pytest.approx(19.0) and photo_cues["yaw_range_deg"] == 0.0
    assert photo_cues["center_motion"] > 0


def test_liveness_of_an_empty_track():
    assert LivenessCues().as_dict() == {"frames": 0}


def test_a_face_lost_for_a_few_frames_and_found_nearby_continues_its_track():
    tracker = IouTracker(min_iou=0.3, max_missed_frames=10, max_center_jump=1.0)
    tracker.update([(208, 102, 294, 189)], 0)  # measured on the Hamilton clip: lost at frame 113...
    for n in range(1, 8):
        tracker.update([], n)
    again = tracker.update([(189, 54, 275, 141)], 8)  # ...found again at 120, 50 px higher: no overlap
    assert again.tracks[0].track_id == 1
    far = tracker.update([(189, 54, 275, 141), (500, 54, 586, 141)], 9)
    assert [t.track_id for t in far.tracks] == [1, 2]  # a face two sizes away is someone else


def test_a_face_in_view_for_an_hour_keeps_its_liveness_record_and_track_the_same_size():
    rng = np.random.default_rng(1)
    cues, tracker = LivenessCues(), IouTracker()
    sizes = {}
    for n in range(3000):  # ten minutes at 5 processed frames a second, or an hour at less than one
        box = (100 + n % 3, 80, 180 + n % 3, 160)
        cues.observe(box, landmarks_in(box, 0.01, rng), yaw_deg=float(n % 7))
        tracker.update([box], n)
        if n in (299, 2999):
            sizes[n] = (len(pickle.dumps(cues)), len(pickle.dumps(tracker)))
    assert sizes[2999] == sizes[299]
    assert cues.as_dict()["frames"] == 3000 and cues.as_dict()["yaw_range_deg"] == 6.0
