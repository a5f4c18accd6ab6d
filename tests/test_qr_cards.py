"""QR cards: signing and verifying, the dashboard's check-in of source ``qr`` (forged and revoked cards
refused), printing (a class's PDF sheet, one card's PNG that reads back), and the agent's card reader."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from attendance.card_print import CardFace, find_card_font, render_card_png
from attendance.cards import CardFormatError, card_of, new_card_secret, parse_card, revoke_card, sign_card, verify_card
from attendance.db.models import CheckIn, School, Student
from attendance.faces.qr import QrReader
from factories import make_camera, make_class, make_school, make_student

NOW = dt.datetime(2026, 9, 7, 0, 30, tzinfo=dt.timezone.utc)  # Monday 07:30 in Ho Chi Minh


def test_a_card_verifies_only_with_its_school_secret_student_and_version():
    secret = new_card_secret()
    card = parse_card(sign_card(secret, "THCS1", "HS001", 2).payload)
    assert verify_card(secret, card, "THCS1", "HS001", 2)
    assert not verify_card(new_card_secret(), card, "THCS1", "HS001", 2)  # another secret
    assert not verify_card(secret, card, "THCS1", "HS002", 2)  # another student
    assert not verify_card(secret, card, "THCS1", "HS001", 3)  # revoked: the student's version moved on
    assert not verify_card(None, card, "THCS1", "HS001", 2)  # a school that never printed cards


def test_a_card_cannot_be_made_from_the_student_code_alone():
    secret = new_card_secret()
    real = sign_card(secret, "THCS1", "HS001").payload
    forged = real.rsplit("|", 1)[0] + "|" + "A" * 20  # the right code, a made-up signature of the right length
    assert not verify_card(secret, parse_card(forged), "THCS1", "HS001", 1)


@pytest.mark.parametrize("text", ["HS001", "ATQ1|THCS1|HS001|1", "ATQ1|THCS1|HS001|x|" + "A" * 20,
                                  "ATQ0|THCS1|HS001|1|" + "A" * 20, "ATQ1|THCS1|HS001|1|short"])
def test_other_qr_codes_are_not_cards(text):
    with pytest.raises(CardFormatError):
        parse_card(text)


@pytest.fixture
def gate(app, db):
    """A school with a class of two students (one without consent) and a camera; the clock at NOW."""
    app.config["CLOCK"] = lambda: NOW
    with db.session() as s:
        school = make_school(s, "THCS1")
        klass = make_class(s, school, "6A1")
        make_student(s, klass, "HS001", "Nguyễn Văn An")
        no_consent = make_student(s, klass, "HS002", "Trần Thị Bình", consent=False)
        camera, token = make_camera(s, school, "gate-1")
        cards = {"HS002": card_of(s, no_consent).payload}
    return {"headers": {"Authorization": f"Bearer {token}"}, "cards": cards}


def qr_event(n: int, code: str, card: str) -> dict:
    return {"event_id": f"qr-{n}", "seq": n, "student_code": code, "captured_at": "2026-09-07T06:55:00+07:00",
            "source": "qr", "card": card}


def post(client, gate, events):
    return client.post("/api/v1/checkins", json={"events": events}, headers=gate["headers"]).get_json()["results"]


def test_a_qr_checkin_is_stored_with_source_qr_even_without_consent(client, db, gate):
    results = post(client, gate, [qr_event(1, "HS002", gate["cards"]["HS002"])])
    assert [r["status"] for r in results] == ["created"]
    with db.session() as s:
        row = s.scalars(select(CheckIn)).one()
        assert (row.source, row.distance, row.snapshot_path) == ("qr", None, None)


def test_a_forged_card_is_refused_and_stores_nothing(client, db, gate):
    real = gate["cards"]["HS002"]
    forged = real.rsplit("|", 1)[0] + "|" + ("B" if real[-1] != "B" else "C") * 20
    other_student = real.replace("|HS002|", "|HS001|")  # a real signature moved onto another code
    results = post(client, gate, [qr_event(1, "HS002", forged), qr_event(2, "HS001", other_student),
                                  qr_event(3, "HS002", "not a card")])
    assert [r["error"]["code"] for r in results] == ["bad_card"] * 3
    with db.session() as s:
        assert s.scalars(select(CheckIn)).all() == []


def test_a_revoked_card_is_refused_and_the_new_one_accepted(client, db, gate):
    old = gate["cards"]["HS002"]
    with db.session() as s:
        student = s.scalar(select(Student).where(Student.student_code == "HS002"))
        new = revoke_card(s, student).payload
    results = post(client, gate, [qr_event(1, "HS002", old), qr_event(2, "HS002", new)])
    assert [r["status"] for r in results] == ["error", "created"]


def test_cards_of_another_school_do_not_verify(client, db, gate):
    with db.session() as s:
        other = make_school(s, "THCS2")
        student = make_student(s, make_class(s, other, "7B"), "HS002", "Lê Văn Cường")
        payload = card_of(s, student).payload
    assert post(client, gate, [qr_event(1, "HS002", payload)])[0]["error"]["code"] == "bad_card"


# -- printing ------------------------------------------------------------------------------------------------


def test_a_card_png_reads_back_with_the_agents_qr_reader():
    payload = sign_card(new_card_secret(), "THCS1", "HS001").payload
    png = render_card_png(CardFace("Nguyễn Thị Ánh Dương", "6A1", "HS001", "Trường THCS 1", payload), find_card_font())
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert QrReader().read(image) == [payload]


def test_cli_writes_a_class_sheet_pdf_and_a_card_png(cli, db, tmp_path):
    with db.session() as s:
        klass = make_class(s, make_school(s, "THCS1"), "6A1")
        for n in range(12):
            make_student(s, klass, f"HS{n:03d}", f"Nguyễn Thị Ánh Dương {n}")
    pdf, png = tmp_path / "6A1.pdf", tmp_path / "HS001.png"
    assert cli("cards", "--class", "6A1", "--pdf", str(pdf))[0] == 0
    assert cli("cards", "HS001", "--png", str(png))[0] == 0
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") == 2
    assert b"DejaVu" in data and b"/FontFile2" in data  # the Vietnamese font is embedded
    image = np.asarray(Image.open(png).convert("RGB"))
    with db.session() as s:
        school = s.scalar(select(School))
        student = s.scalar(select(Student).where(Student.student_code == "HS001"))
        assert school.card_secret and QrReader().read(image) == [card_of(s, student).payload]


def test_cli_refuses_an_unknown_class_in_one_line(cli, db, tmp_path):
    with db.session() as s:
        make_school(s, "THCS1")
    status, _, err = cli("cards", "--class", "9Z9", "--pdf", str(tmp_path / "x.pdf"))
    assert status != 0 and "9Z9" in err and len(err.strip().splitlines()) == 1


def test_the_class_page_prints_the_class_sheet_for_admins_only(app, client, db):
    from factories import make_user

    with db.session() as s:
        school = make_school(s, "THCS1")
        klass = make_class(s, school, "6A1")
        make_student(s, klass, "HS001", "Nguyễn Văn An")
        make_user(s, "admin", school=school, role="school_admin", password="correct horse battery")
        make_user(s, "lan", school=school, password="correct horse battery", classes=[klass])
        class_id = klass.id
    client.post("/login", data={"username": "lan", "password": "correct horse battery"})
    assert client.get(f"/admin/classes/{class_id}/cards.pdf").status_code in (302, 403)
    admin = app.test_client()
    admin.post("/login", data={"username": "admin", "password": "correct horse battery"})
    assert f"/admin/classes/{class_id}/cards.pdf" in admin.get(f"/admin/classes/{class_id}").get_data(as_text=True)
    response = admin.get(f"/admin/classes/{class_id}/cards.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    with db.session() as s:
        from attendance.db.models import AuditEntry

        assert s.scalar(select(School)).card_secret
        assert [a.action for a in s.scalars(select(AuditEntry)) if a.action.startswith("cards.")] == ["cards.print"]
