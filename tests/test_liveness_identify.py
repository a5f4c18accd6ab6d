"""``attendance identify --json --liveness`` on real faces: a portrait is live, a NUAA printed photo is not.

Expected: barack_obama's probe photo scores live at the shipped threshold; NUAA subject 0001's photo attack
frame (a printed photo held to a webcam) scores under it. Uses dlib for recognition, MiniFASNet from
../shared/models/minifasnet (installed with ``attendance models convert-minifasnet``).
"""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import SHARED_FACES, SHARED_MODELS, require_shared

from attendance.cli.enroll_cmd import main as enroll_main
from attendance.cli.main import main as attendance_main

pytestmark = pytest.mark.realfaces


@pytest.fixture
def enrolled_obama(tmp_path, monkeypatch):
    monkeypatch.setitem(os.environ, "ATTENDANCE_INSTANCE_PATH", str(tmp_path / "instance"))
    person = tmp_path / "roster" / "10A1" / "HS001 barack_obama"
    person.mkdir(parents=True)
    shutil.copy(require_shared(SHARED_FACES / "people" / "barack_obama" / "obama.jpg"), person / "obama.jpg")
    db_url = f"sqlite:///{tmp_path / 'school.db'}"
    assert enroll_main([str(tmp_path / "roster"), "--db", db_url, "--quiet"]) == 0
    return db_url


def test_identify_without_liveness_models_fails_in_one_line(enrolled_obama, capsys):
    photo = require_shared(SHARED_FACES / "probes" / "obama1.jpg")
    assert attendance_main(["identify", "--db", enrolled_obama, "--json", "--liveness", str(photo)]) != 0
    assert "convert-minifasnet" in capsys.readouterr().err


def test_identify_liveness_scores_a_portrait_live_and_a_printed_photo_not(enrolled_obama, capsys):
    source = require_shared(SHARED_MODELS / "minifasnet")
    assert attendance_main(["models", "convert-minifasnet", "--dir", str(source)]) == 0
    live = require_shared(SHARED_FACES / "probes" / "obama1.jpg")
    attack = require_shared(SHARED_FACES / "nuaa" / "photo_attack" / "0001" / "0001_00_00_01_0.jpg")
    capsys.readouterr()
    assert attendance_main(["identify", "--db", enrolled_obama, "--json", "--liveness", str(live), str(attack)]) == 0
    by_image = {r["image"]: r["faces"] for r in json.loads(capsys.readouterr().out)}
    [obama] = by_image[str(live)]
    assert obama["name"] == "barack_obama"
    assert obama["liveness"]["live"] is True and obama["liveness"]["score"] > 0.5
    largest = by_image[str(attack)][0]
    assert largest["liveness"]["live"] is False and largest["liveness"]["score"] < 0.05
