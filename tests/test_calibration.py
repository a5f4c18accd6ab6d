"""Calibration on a school's own students: the estimator on synthetic vectors, `attendance calibrate`, the stored
point (audited) and its use by identify's resolution, the gallery API and the agent's gallery sync."""

import json

import numpy as np
import pytest
from sqlalchemy import select

from attendance.calibration import MIN_STUDENTS, ImpostorTail, calibrate
from attendance.calibration_chart import render_svg, write_chart
from attendance.db.models import AuditEntry, EnrollmentPhoto, FaceTemplate, SchoolOperatingPoint
from attendance.gallery import OperatingPoint
from attendance.operating_points import school_operating_point
from attendance.recognition import get_profile, resolve_operating_point
from attendance.settings import Settings, load_settings
from camera_agent.gallery_sync import GalleryFormatError, GallerySync, parse_gallery
from factories import make_camera, make_class, make_school, make_student

DEFAULT = OperatingPoint(0.45, 0.06)


def people(students, photos=3, *, dim=128, spread=0.25, noise=0.04, seed=0, twins=0):
    """Photo vectors of ``students`` people (a centre each, a little noise per photo); the first ``twins``
    pairs of people (0-1, 2-3, ...) have almost the same centre. Returns (vectors, student keys, photo ids)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, spread / np.sqrt(dim), (students, dim))
    for pair in range(twins):
        centres[2 * pair + 1] = centres[2 * pair] + rng.normal(0, 0.05 / np.sqrt(dim), dim)
    vectors, keys = [], []
    for s in range(students):
        for _ in range(photos):
            vectors.append(centres[s] + rng.normal(0, noise / np.sqrt(dim), dim))
            keys.append(s)
    return np.array(vectors, np.float32), keys, [1000 + i for i in range(len(keys))]


def run(vectors, keys, photo_ids, **kwargs):
    return calibrate("dlib_resnet_v1", "euclidean", "centroid", vectors, keys, photo_ids,
                     current=kwargs.pop("current", DEFAULT), default=DEFAULT, **kwargs)


def test_the_recommendation_sits_between_the_two_distributions_at_the_target():
    result = run(*people(40))
    assert result.reliable and result.students == 40 and result.photos == 120
    assert result.genuine.max() < result.threshold < result.impostor_best.min()
    assert result.expected_fpir == pytest.approx(0.001, rel=0.01)  # the fitted tail, at the target
    assert result.expected_fnir == 0.0  # every photo is nearest its own (leave-one-out) template
    assert result.margin == DEFAULT.margin
    assert len(result.closest_pairs) == 10 and result.closest_pairs[0].distance == pytest.approx(result.impostor_best.min())


def test_a_stricter_target_or_a_bigger_school_gives_a_tighter_threshold():
    vectors, keys, ids = people(60)
    loose = run(vectors, keys, ids, target_fpir=0.01)
    strict = run(vectors, keys, ids, target_fpir=0.0001)
    assert strict.threshold < loose.threshold
    small = run(*people(30, seed=1))
    big = run(*people(120, seed=1))
    assert big.threshold < small.threshold  # the same people-to-people spread, more students to confuse


def test_lookalike_students_pull_the_threshold_in_and_are_listed_first():
    plain = run(*people(40))
    vectors, keys, ids = people(40, twins=3)
    with_twins = run(vectors, keys, ids)
    assert with_twins.threshold < plain.threshold
    first = with_twins.closest_pairs[:3]
    assert {frozenset((p.student_a, p.student_b)) for p in first} == {frozenset((0, 1)), frozenset((2, 3)), frozenset((4, 5))}
    for pair in first:
        assert keys[ids.index(pair.photo_a)] == pair.student_a and keys[ids.index(pair.photo_b)] == pair.student_b


def test_genuine_distances_leave_the_photo_out():
    vectors, keys, ids = people(25, photos=2)
    vectors[1] = vectors[0]  # student 0's two photos are the same picture
    result = run(vectors, keys, ids)
    np.testing.assert_allclose(np.sort(result.genuine)[:2], [0.0, 0.0], atol=1e-6)
    assert np.sort(result.genuine)[2] > 0.01
    assert len(result.genuine) == 50  # with itself left in, every photo would be at 0


def test_a_student_with_one_photo_has_no_genuine_distance_and_misses_are_counted():
    vectors, keys, ids = people(24, photos=2)
    vectors, keys, ids = vectors[:-1], keys[:-1], ids[:-1]  # the last student keeps one photo
    result = run(vectors, keys, ids, current=OperatingPoint(0.0001, 0.0))
    assert len(result.genuine) == 46 and result.students_with_pairs == 23
    assert result.current_fnir == 1.0  # nobody is within a threshold of 0.0001
    assert result.current_fpir == pytest.approx(0.0, abs=1e-9)
    assert result.current_observed_fpir == 0.0


def test_photos_named_as_another_student_are_counted_with_the_margin():
    vectors, keys, ids = people(30, twins=2)
    anyone = run(vectors, keys, ids, current=OperatingPoint(10.0, 0.0))
    assert anyone.current_observed_fpir == 1.0  # without their own student, every photo names someone
    twins_only = run(vectors, keys, ids, current=OperatingPoint(10.0, 0.2))
    assert twins_only.current_observed_fpir == pytest.approx(12 / 90)  # only a twin is that far ahead of the rest
    assert run(vectors, keys, ids).observed_fpir == 0.0


def test_too_few_students_keep_the_default_and_say_so():
    result = run(*people(MIN_STUDENTS - 1), current=OperatingPoint(0.5, 0.1))
    assert not result.reliable
    assert (result.threshold, result.margin) == (DEFAULT.threshold, DEFAULT.margin)
    assert "too few" in result.message and str(MIN_STUDENTS) in result.message
    one_photo_each = run(*people(40, photos=1))
    assert not one_photo_each.reliable and one_photo_each.expected_fnir is None


def test_an_empty_gallery_is_not_an_error():
    result = run(np.zeros((0, 128), np.float32), [], [])
    assert not result.reliable and result.closest_pairs == [] and result.expected_fpir is None


def test_fmr_is_counted_where_there_are_enough_comparisons_and_fitted_below():
    tail = ImpostorTail(1000, np.sort(np.random.default_rng(3).normal(0.8, 0.1, 1000)))
    tail.fit_mean, tail.fit_sd = 0.8, 0.1
    assert tail.fmr(0.8) == pytest.approx(np.mean(tail.lowest <= 0.8))
    assert tail.fmr(0.4) == pytest.approx(3.17e-5, rel=0.01)  # below the 10th comparison: the fitted normal
    assert tail.fmr(tail.threshold_for(1e-5)) == pytest.approx(1e-5, rel=1e-6)
    assert tail.threshold_for(0.05) < tail.lowest[50]


def test_the_chart_is_a_picture_with_both_points(tmp_path):
    result = run(*people(30), current=OperatingPoint(0.3, 0.06))
    svg = render_svg(result, {"recommended": "khuyến nghị"})
    assert svg.startswith("<svg") and svg.count("<rect") > 10 and "khuyến nghị" in svg and "0.300" in svg
    assert write_chart(result, tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert write_chart(result, tmp_path / "c.svg").read_text(encoding="utf-8") == render_svg(result)


# -- the stored point -----------------------------------------------------------------------------------------

def enrol_people(session, school, vectors, keys, model_id="dlib_resnet_v1"):
    """Students of ``school`` with one photo (not kept) and one template per vector; codes HS000.."""
    klass = make_class(session, school, "6A1")
    students = {}
    for vector, key in zip(vectors, keys):
        if key not in students:
            students[key] = make_student(session, klass, f"HS{key:03d}", f"Học Sinh {key}")
        photo = EnrollmentPhoto(student_id=students[key].id, sha256=f"{key}-{len(students)}-{vector[0]:.8f}")
        session.add(photo)
        session.flush()
        session.add(FaceTemplate(student_id=students[key].id, photo_id=photo.id, model_id=model_id,
                                 vector=np.asarray(vector, "<f4").tobytes()))
    session.flush()
    return students


@pytest.fixture
def school_of_40(db):
    vectors, keys, _ = people(40)
    with db.session() as s:
        school = make_school(s, "THCS1")
        enrol_people(s, school, vectors, keys)
        _, token = make_camera(s, school, "gate-1")
        s.commit()
    return token


def test_calibrate_json_is_one_object(cli, school_of_40, tmp_path):
    status, out, err = cli("calibrate", "--json", "--model", "dlib_resnet_v1", "--chart", str(tmp_path / "c.svg"))
    assert status == 0 and err == ""
    assert (tmp_path / "c.svg").read_text(encoding="utf-8").startswith("<svg")
    document = json.loads(out)
    assert {"school", "model", "students", "photos", "threshold", "margin", "current_threshold", "current_margin",
            "expected_fpir", "expected_fnir", "closest_pairs", "reliable", "message", "observed_fpir"} <= set(document)
    assert (document["school"], document["model"], document["students"], document["photos"]) == ("THCS1", "dlib_resnet_v1", 40, 120)
    shipped = get_profile("dlib_resnet_v1").point  # the manifest's point for dlib (chosen by bench/operating_point.py)
    assert document["current_threshold"] == shipped.threshold and document["reliable"] is True
    pair = document["closest_pairs"][0]
    assert pair["student_a"].startswith("HS") and isinstance(pair["photo_a"], int) and pair["name_a"].startswith("Học")


def test_apply_stores_the_point_audits_it_and_identify_uses_it(cli, db, settings, school_of_40):
    status, out, _ = cli("calibrate", "--apply", "--school", "THCS1")
    assert status == 0 and "applied" in out
    with db.session() as s:
        row = s.scalar(select(SchoolOperatingPoint))
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "calibration.apply"))
        assert row.set_by == "cli" and row.set_at is not None and row.students == 40
        assert entry.actor == "cli" and entry.target == "model:dlib_resnet_v1" and entry.detail["before"] is None
        assert entry.detail["threshold"] == row.threshold
        assert school_operating_point(s, settings, row.school_id, "dlib_resnet_v1") == OperatingPoint(row.threshold, row.margin)
        overridden = load_settings(Settings, environ={}, overrides={"database_url": settings.database_url,
                                                                     "match_threshold": 0.3})
        assert school_operating_point(s, overridden, row.school_id, "dlib_resnet_v1") == OperatingPoint(0.3, row.margin)
    cli("calibrate", "--apply", "--target-fpir", "0.01")
    with db.session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "calibration.apply").order_by(AuditEntry.id)).all()
        assert len(entries) == 2 and entries[1].detail["before"]["threshold"] == entries[0].detail["threshold"]
        assert len(s.scalars(select(SchoolOperatingPoint)).all()) == 1


def test_apply_with_too_few_students_stores_nothing(cli, db):
    vectors, keys, _ = people(5)
    with db.session() as s:
        enrol_people(s, make_school(s, "THCS1"), vectors, keys)
        s.commit()
    status, out, err = cli("calibrate", "--apply")
    assert status == 2 and out == "" and err.count("\n") == 1 and "too few" in err
    with db.session() as s:
        assert s.scalar(select(SchoolOperatingPoint)) is None


@pytest.mark.parametrize("argv, words", [
    (["--target-fpir", "2"], "between 0 and 1"), (["--model", "nope_v9"], "nope_v9"),
    (["--school", "NOPE"], "NOPE"), (["--chart", "c.gif"], ".svg or .png"),
])
def test_calibrate_errors_are_one_line(cli, school_of_40, argv, words):
    status, out, err = cli("calibrate", *argv)
    assert status == 2 and err.count("\n") == 1 and words in err


def test_the_gallery_api_sends_the_school_point_and_its_etag_changes(client, cli, school_of_40):
    headers = {"Authorization": f"Bearer {school_of_40}"}
    before = client.get("/api/v1/gallery?model=dlib_resnet_v1", headers=headers)
    assert before.get_json()["operating_point"] is None
    cli("calibrate", "--apply")
    after = client.get("/api/v1/gallery?model=dlib_resnet_v1", headers={**headers, "If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    point = after.get_json()["operating_point"]
    assert set(point) == {"threshold", "margin", "set_at"} and 0 < point["threshold"] < 2


def test_resolution_order_is_setting_then_school_then_manifest():
    plain = load_settings(Settings, environ={}, overrides={})
    school = OperatingPoint(0.33, 0.02)
    assert resolve_operating_point(plain, "dlib_resnet_v1") == get_profile("dlib_resnet_v1").point
    assert resolve_operating_point(plain, "dlib_resnet_v1", school) == school
    margin_set = load_settings(Settings, environ={}, overrides={"match_margin": 0.1})
    assert resolve_operating_point(margin_set, "dlib_resnet_v1", school) == OperatingPoint(0.33, 0.1)


class FakeClient:
    def __init__(self, document):
        self.document = document

    def get_gallery(self, model_id, etag):
        from camera_agent.client import GalleryResponse

        return GalleryResponse(self.document, '"v"')

    def get_gallery_key(self):
        return b"k" * 32  # the key the dashboard hands this camera for its sealed gallery copy


def agent_document(point):
    return {"model_id": "dlib_resnet_v1", "metric": "euclidean", "dim": 2, "version": "v", "operating_point": point,
            "students": [{"student_code": "HS1", "full_name": "A", "templates": [[0.0, 0.0]]}]}


def test_the_agent_takes_the_school_point_unless_its_installer_set_one(tmp_path):
    from camera_agent.engine import operating_point
    from camera_agent.settings import AgentSettings

    sent = {"threshold": 0.38, "margin": 0.04, "set_at": "2026-11-30T09:00:00+00:00"}
    plain = load_settings(AgentSettings, environ={}, overrides={"token": "t"})
    sync = GallerySync(FakeClient(agent_document(sent)), "dlib_resnet_v1", 2, tmp_path / "g.json",
                       resolve_point=lambda p: operating_point(plain, "dlib_resnet_v1", p))
    assert sync.refresh() and sync.current.point == OperatingPoint(0.38, 0.04)
    installer = load_settings(AgentSettings, environ={}, overrides={"token": "t", "match_threshold": 0.5})
    sync = GallerySync(FakeClient(agent_document(sent)), "dlib_resnet_v1", 2, tmp_path / "g2.json",
                       resolve_point=lambda p: operating_point(installer, "dlib_resnet_v1", p))
    assert sync.refresh() and sync.current.point == OperatingPoint(0.5, 0.04)
    restarted = GallerySync(FakeClient(None), "dlib_resnet_v1", 2, tmp_path / "g.json",
                            resolve_point=lambda p: operating_point(plain, "dlib_resnet_v1", p))
    assert restarted.load_cached() and restarted.current.point == OperatingPoint(0.38, 0.04)  # kept on disk
    assert parse_gallery(agent_document(None), "dlib_resnet_v1", 2).point is None
    with pytest.raises(GalleryFormatError):
        parse_gallery(agent_document({"threshold": -1, "margin": 0}), "dlib_resnet_v1", 2)


# -- the admin page ---------------------------------------------------------------------------------------------

def login(client, db, role="school_admin", language="vi"):
    from factories import make_user
    from sqlalchemy import select as _select

    from attendance.db.models import School

    with db.session() as s:
        school = s.scalar(_select(School).where(School.code == "THCS1"))
        make_user(s, "hieu", school=school, role=role, password="pw-calibrate-1", language=language)
        s.commit()
    assert client.post("/login", data={"username": "hieu", "password": "pw-calibrate-1"}).status_code == 302
    return client


def test_the_page_shows_the_chart_both_points_and_the_closest_pairs_with_photos(client, db, school_of_40):
    login(client, db)
    page = client.get("/admin/calibration/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" in html and "khuyến nghị" in html and "hiện tại" in html  # Vietnamese by default
    assert "Tỉ lệ bỏ sót dự kiến" in html and f"{get_profile('dlib_resnet_v1').point.threshold:.3f}" in html
    assert html.count("không lưu ảnh") == 20  # 10 pairs, photos not kept in this school
    assert 'name="csrf_token"' in html and "/admin/calibration/apply" in html
    assert "/admin/calibration/" in client.get("/admin/classes").get_data(as_text=True)  # linked from the tabs


def test_the_apply_button_stores_the_point_and_audits_the_user(client, db, school_of_40):
    login(client, db, language="en")
    response = client.post("/admin/calibration/apply", data={"model": "dlib_resnet_v1", "target_fpir": "0.001"})
    assert response.status_code == 302
    with db.session() as s:
        row = s.scalar(select(SchoolOperatingPoint))
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "calibration.apply"))
        assert row.set_by == "user:hieu" and row.set_by_id == entry.user_id and entry.actor == "user:hieu"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "applied for dlib_resnet_v1" in html and "Applied by user:hieu" in html


def test_apply_with_too_few_students_is_refused_with_a_message(client, db):
    vectors, keys, _ = people(5)
    with db.session() as s:
        enrol_people(s, make_school(s, "THCS1"), vectors, keys)
        s.commit()
    login(client, db, language="en")
    html = client.get("/admin/calibration/").get_data(as_text=True)
    assert "Too few students" in html and "/admin/calibration/apply" not in html
    response = client.post("/admin/calibration/apply", data={"model": "dlib_resnet_v1"}, follow_redirects=True)
    assert "too few students" in response.get_data(as_text=True)
    with db.session() as s:
        assert s.scalar(select(SchoolOperatingPoint)) is None


def test_teachers_cannot_open_the_page(client, db, school_of_40):
    login(client, db, role="teacher")
    assert client.get("/admin/calibration/").status_code == 403
    assert client.post("/admin/calibration/apply", data={"model": "dlib_resnet_v1"}).status_code == 403


def test_reset_goes_back_to_the_default_and_is_audited(cli, client, db, school_of_40):
    assert cli("calibrate", "--apply")[0] == 0
    status, out, _ = cli("calibrate", "--reset")
    assert status == 0 and "removed" in out
    assert "nothing to remove" in cli("calibrate", "--reset")[1]
    assert cli("calibrate", "--apply")[0] == 0
    login(client, db, language="en")
    assert "Back to the model" in client.get("/admin/calibration/").get_data(as_text=True)
    response = client.post("/admin/calibration/reset", data={"model": "dlib_resnet_v1"}, follow_redirects=True)
    assert "default applies again" in response.get_data(as_text=True)
    with db.session() as s:
        assert s.scalar(select(SchoolOperatingPoint)) is None
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("calibration.%"))
                            .order_by(AuditEntry.id)).all()
        assert actions == ["calibration.apply", "calibration.reset", "calibration.apply", "calibration.reset"]


def test_cosine_models_are_calibrated_in_their_own_distance_and_one_twin_pair_does_not_set_the_threshold():
    vectors, keys, ids = people(30, twins=1)
    vectors = vectors * np.random.default_rng(9).uniform(0.5, 2.0, (len(vectors), 1)).astype(np.float32)  # norms vary
    result = calibrate("mobilefacenet_paddlex", "cosine", "nearest", vectors, keys, ids,
                       current=OperatingPoint(0.53, 0.05), default=OperatingPoint(0.53, 0.05))
    others = np.sort(result.impostor_best)[6:]  # the twins' 6 photos come first
    assert result.reliable and result.genuine.max() < result.threshold < others.min()
    pair = result.closest_pairs[0]
    assert {pair.student_a, pair.student_b} == {0, 1}
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    a = ids.index(pair.photo_a)
    nearest_b = max((i for i, k in enumerate(keys) if k == pair.student_b), key=lambda i: float(unit[i] @ unit[a]))
    assert pair.photo_b == ids[nearest_b]
    assert result.observed_fpir == pytest.approx(6 / 90)  # the twins are still named as each other: said so
    assert "check the closest pairs" in result.message
