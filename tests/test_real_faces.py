"""Enrollment and identification on real faces from ../shared/faces (its README says who is who).

Enrolling ``people/`` and identifying ``probes/`` must name the right people, and say unknown for people
who are not enrolled. These run the dlib models for real: about a minute on a laptop CPU.
"""

import json
import shutil
from pathlib import Path

import pytest
from conftest import SHARED_FACES, SIX_PEOPLE_DLIB_POINT, require_shared
from PIL import Image, ImageFilter

from attendance.cli.enroll_cmd import main as enroll_main
from attendance.cli.main import main as attendance_main

pytestmark = pytest.mark.realfaces

PEOPLE = ["alex_lacamoire", "barack_obama", "joe_biden", "kit_harington", "lin_manuel_miranda", "rose_leslie"]
EXPECTED = {  # probe -> the people in it, in any order
    "32bit.png": {"barack_obama"},
    "alex_lacamoire1.jpg": {"alex_lacamoire"},
    "johnsnow_test1.jpg": {"kit_harington"},
    "kit_with_rose.jpg": {"kit_harington", "rose_leslie"},
    "obama-1080p.jpg": {"barack_obama"},
    "obama-720p.jpg": {"barack_obama"},
    "obama-480p.jpg": {"barack_obama"},
    "obama-240p.jpg": {"barack_obama"},
    "obama1.jpg": {"barack_obama"},
    "obama3.jpg": {"barack_obama"},
    "obama_small.jpg": {"barack_obama"},
    "obama_and_biden.jpg": {"barack_obama", "joe_biden"},
    "two_people.jpg": {"barack_obama", "joe_biden"},
}


def make_roster(root: Path, people: list[str]) -> Path:
    """A roster folder CLASS/CODE Name/ with copies of the people's photos (kept outside the repo)."""
    people_dir = require_shared(SHARED_FACES / "people")
    for number, person in enumerate(people, start=1):
        target = root / "10A1" / f"HS{number:03d} {person}"
        target.mkdir(parents=True)
        for photo in sorted((people_dir / person).iterdir()):
            shutil.copy(photo, target / photo.name)
    return root


@pytest.fixture(autouse=True)
def six_people_point(monkeypatch):
    """At most six people enrolled here: dlib at the point the placement rule allows for six (conftest)."""
    monkeypatch.setenv("ATTENDANCE_MATCH_THRESHOLD", SIX_PEOPLE_DLIB_POINT["threshold"])
    monkeypatch.setenv("ATTENDANCE_MATCH_MARGIN", SIX_PEOPLE_DLIB_POINT["margin"])


def identify(db_url: str, *images: Path, capsys) -> tuple[int, list[dict]]:
    capsys.readouterr()
    status = attendance_main(["identify", "--db", db_url, "--json", *map(str, images)])
    return status, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def enrolled_all(tmp_path_factory):
    root = tmp_path_factory.mktemp("all")
    roster = make_roster(root / "roster", PEOPLE)
    db_url = f"sqlite:///{root / 'school.db'}"
    status = enroll_main([str(roster), "--db", db_url, "--quiet"])
    return status, db_url, roster


def test_enrolling_people_accepts_every_photo(enrolled_all, capsys):
    status, _, _ = enrolled_all
    assert status == 0


def test_probes_name_the_right_people(enrolled_all, capsys):
    _, db_url, _ = enrolled_all
    probes = require_shared(SHARED_FACES / "probes")
    status, results = identify(db_url, *(probes / name for name in EXPECTED), capsys=capsys)
    assert status == 0
    for result in results:
        named = {f["name"] for f in result["faces"] if f["student_code"]}
        assert named == EXPECTED[Path(result["image"]).name], result
        for face in result["faces"]:
            assert set(face) == {"box", "student_code", "name", "distance", "margin"}
            assert len(face["box"]) == 4


def test_rerunning_enrollment_is_idempotent(enrolled_all, capsys):
    _, db_url, roster = enrolled_all
    capsys.readouterr()
    assert enroll_main([str(roster), "--db", db_url, "--quiet"]) == 0
    assert "0 enrolled, 11 already enrolled, 0 rejected" in capsys.readouterr().out


def test_people_not_enrolled_are_unknown(tmp_path, capsys):
    roster = make_roster(tmp_path / "roster", ["barack_obama", "kit_harington", "alex_lacamoire"])
    db_url = f"sqlite:///{tmp_path / 'school.db'}"
    assert enroll_main([str(roster), "--db", db_url, "--quiet"]) == 0
    probes = SHARED_FACES / "probes"
    _, results = identify(db_url, probes / "kit_with_rose.jpg", probes / "two_people.jpg", capsys=capsys)
    by_image = {Path(r["image"]).name: r["faces"] for r in results}
    assert sorted(f["name"] or "unknown" for f in by_image["kit_with_rose.jpg"]) == ["kit_harington", "unknown"]
    assert sorted(f["name"] or "unknown" for f in by_image["two_people.jpg"]) == ["barack_obama", "unknown"]


def test_unreadable_image_is_reported_and_the_run_goes_on(enrolled_all, tmp_path, capsys):
    _, db_url, _ = enrolled_all
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    status, results = identify(db_url, bad, SHARED_FACES / "probes" / "obama1.jpg", capsys=capsys)
    assert status == 1
    assert results[0]["image"] == str(bad) and "not an image" in results[0]["error"]
    assert results[1]["faces"][0]["name"] == "barack_obama"


def test_bad_photos_are_rejected_with_reasons_and_the_rest_enrolled(tmp_path, capsys):
    roster = make_roster(tmp_path / "roster", ["barack_obama"])
    student = next((roster / "10A1").iterdir())
    probes = SHARED_FACES / "probes"
    shutil.copy(probes / "obama_and_biden.jpg", student / "group.jpg")
    shutil.copy(probes / "obama-240p.jpg", student / "tiny.jpg")
    (student / "notes.jpg").write_text("not a photo")
    Image.new("RGB", (400, 400), (120, 130, 140)).save(student / "wall.png")
    Image.open(SHARED_FACES / "people" / "barack_obama" / "obama.jpg").filter(
        ImageFilter.GaussianBlur(6)).save(student / "blurred.jpg")
    db_url = f"sqlite:///{tmp_path / 'school.db'}"
    status = enroll_main([str(roster), "--db", db_url, "--quiet"])
    captured = capsys.readouterr()
    assert status == 1
    assert "2 enrolled, 0 already enrolled, 5 rejected" in captured.out
    for reason in ("several faces", "too small", "not a readable image", "no face found", "too blurry"):
        assert reason in captured.out + captured.err


def test_dry_run_stores_nothing_and_duplicates_are_warned(tmp_path, capsys):
    people = require_shared(SHARED_FACES / "people")
    roster = tmp_path / "roster" / "10A2"
    for code, photo in (("HS1 Barack Obama", "obama.jpg"), ("HS2 Someone Else", "obama2.jpg")):
        (roster / code).mkdir(parents=True)
        shutil.copy(people / "barack_obama" / photo, roster / code / photo)
    db_url = f"sqlite:///{tmp_path / 'school.db'}"
    assert enroll_main([str(roster.parent), "--db", db_url, "--quiet", "--dry-run"]) == 0
    assert "would enroll" in capsys.readouterr().out
    # Nothing was stored, not even the school.
    assert attendance_main(["identify", "--db", db_url, "--json", str(people / "barack_obama" / "obama.jpg")]) == 2
    assert "there is no school yet" in capsys.readouterr().err
    # the same face under a second code is refused (it would make both unrecognisable) unless confirmed
    assert enroll_main([str(roster.parent), "--db", db_url, "--quiet"]) == 1
    said = "".join(capsys.readouterr())
    assert "very close to another student's" in said and "HS1" in said and "--allow-lookalikes" in said
    assert enroll_main([str(roster.parent), "--db", db_url, "--quiet", "--allow-lookalikes"]) == 0
    captured = capsys.readouterr()
    assert "looks very like student HS1" in captured.out + captured.err


def test_csv_roster(tmp_path, capsys):
    people = require_shared(SHARED_FACES / "people")
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(
        "\ufeffstudent_code,full_name,class,photo\n"
        "HS9,Nguyễn Văn An,10a3,joe_biden/biden.jpg\n"
        "HS9,Nguyễn Văn An,10a3,joe_biden/biden2.jpg\n", encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'school.db'}"
    assert enroll_main([str(csv_path), "--photos", str(people), "--db", db_url, "--quiet"]) == 0
    assert "1 students; photos: 2 enrolled" in capsys.readouterr().out
    _, results = identify(db_url, SHARED_FACES / "probes" / "two_people.jpg", capsys=capsys)
    assert "Nguyễn Văn An" in {f["name"] for f in results[0]["faces"]}


def test_onnx_backend_gives_the_same_decisions_as_dlib(enrolled_all, converted, monkeypatch, capsys):
    _, db_url, _ = enrolled_all
    monkeypatch.setenv("ATTENDANCE_INSTANCE_PATH", str(converted[0].parent.parent))
    probes = [SHARED_FACES / "probes" / name for name in EXPECTED]
    decisions = {}
    for backend in ("dlib", "onnx"):
        capsys.readouterr()
        assert attendance_main(["identify", "--db", db_url, "--json", "--backend", backend, *map(str, probes)]) == 0
        decisions[backend] = json.loads(capsys.readouterr().out)
    for with_dlib, with_onnx in zip(decisions["dlib"], decisions["onnx"]):
        assert [f["student_code"] for f in with_dlib["faces"]] == [f["student_code"] for f in with_onnx["faces"]]
        for a, b in zip(with_dlib["faces"], with_onnx["faces"]):
            assert a["box"] == b["box"]
            assert a["distance"] == pytest.approx(b["distance"], abs=1e-3)


def test_a_better_model_is_installed_rebuilt_and_used(tmp_path, monkeypatch, capsys):
    """models download --path, then gallery rebuild, then identify uses the new model (issue: accurate models).

    "auto" takes the licence-clean Intel model over PaddleX (which ranks higher but needed --accept-terms);
    PaddleX runs once the school names it in recognition_model.
    """
    models = SHARED_FACES.parent / "models"
    paddlex = require_shared(models / "mobilefacenet_paddlex.onnx")
    yunet = require_shared(models / "face_detection_yunet.onnx")
    intel = require_shared(models / "intel" / "face-reidentification-retail-0095.xml")
    monkeypatch.setenv("ATTENDANCE_INSTANCE_PATH", str(tmp_path / "instance"))
    roster = make_roster(tmp_path / "roster", ["barack_obama", "joe_biden", "kit_harington", "rose_leslie"])
    db_url = f"sqlite:///{tmp_path / 'school.db'}"
    assert enroll_main([str(roster), "--db", db_url, "--quiet"]) == 0
    assert attendance_main(["models", "download", "mobilefacenet_paddlex", "--path", str(paddlex)]) == 2
    assert "accept-terms" in capsys.readouterr().err
    assert attendance_main(["models", "download", "mobilefacenet_paddlex", "--path", str(paddlex), "--accept-terms"]) == 0
    assert attendance_main(["models", "download", "yunet_2023mar", "--path", str(yunet)]) == 0
    assert attendance_main(["models", "download", "intel_reid_0095", "--path", str(intel)]) == 0
    capsys.readouterr()
    for model, threshold in (("intel_reid_0095", 0.50), ("mobilefacenet_paddlex", 0.53)):
        assert attendance_main(["gallery", "rebuild", "--db", db_url, "--model", model, "--quiet"]) == 0
        assert f"{model}: 8 templates added" in capsys.readouterr().out
        if model == "mobilefacenet_paddlex":
            monkeypatch.setenv("ATTENDANCE_RECOGNITION_MODEL", model)
        assert attendance_main(["models", "list"]) == 0
        in_use = [line.split()[0] for line in capsys.readouterr().out.splitlines() if "in use" in line]
        assert in_use == ["yunet_2023mar", model]
        probes = SHARED_FACES / "probes"
        _, results = identify(db_url, probes / "kit_with_rose.jpg", probes / "two_people.jpg", capsys=capsys)
        named = [sorted(f["name"] for f in r["faces"] if f["student_code"]) for r in results]
        assert named == [["kit_harington", "rose_leslie"], ["barack_obama", "joe_biden"]]
        assert all(0.0 <= f["distance"] < threshold for r in results for f in r["faces"])  # the model's cosine distances


def test_rerunning_enrollment_keeps_a_withdrawn_consent(enrolled_all, capsys):
    from sqlalchemy import select

    from attendance.db import Database
    from attendance.db.models import Student

    _, db_url, roster = enrolled_all
    database = Database.open(db_url)
    with database.session() as session:
        student = session.scalar(select(Student).where(Student.student_code == "HS001"))
        student.consent_given = False
    assert enroll_main([str(roster), "--db", db_url, "--quiet"]) == 0
    with database.session() as session:
        assert session.scalar(select(Student.consent_given).where(Student.student_code == "HS001")) is False
        student = session.scalar(select(Student).where(Student.student_code == "HS001"))
        student.consent_given = True
    database.close()


def test_rebuild_lists_students_whose_photos_were_not_kept(tmp_path, monkeypatch, capsys):
    paddlex = require_shared(SHARED_FACES.parent / "models" / "mobilefacenet_paddlex.onnx")
    monkeypatch.setenv("ATTENDANCE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("ATTENDANCE_KEEP_ENROLLMENT_PHOTOS", "false")
    roster = make_roster(tmp_path / "roster", ["joe_biden"])
    db_url = f"sqlite:///{tmp_path / 'school.db'}"
    assert enroll_main([str(roster), "--db", db_url, "--quiet"]) == 0
    assert not list((tmp_path / "instance").rglob("*.jpg"))  # only vectors were stored
    assert attendance_main(["models", "download", "mobilefacenet_paddlex", "--path", str(paddlex), "--accept-terms"]) == 0
    capsys.readouterr()
    assert attendance_main(["gallery", "rebuild", "--db", db_url, "--model", "mobilefacenet_paddlex", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "0 templates added" in out and "1 students have no kept photo" in out and "HS001 joe_biden" in out
