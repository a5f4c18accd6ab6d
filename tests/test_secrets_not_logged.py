"""Tokens, passwords and keys never reach a log: one whole flow (login, a camera's gallery key and gallery,
check-ins by face and by QR card, the agent's side of it, key rotation and card printing from the CLI) runs
with every logger at DEBUG, and none of the secrets it used appears in what was logged or printed."""

from __future__ import annotations

import base64
import datetime as dt
import logging

import pytest

from test_agent_e2e import ServedDashboard

from attendance.cards import card_of
from attendance.crypto import installed_keyring
from camera_agent.client import DashboardClient, DeliveryError
from camera_agent.gallery_sync import GallerySync
from camera_agent.outbox import Outbox
from camera_agent.sender import Sender
from conftest import TEST_DATA_KEY
from factories import make_camera, make_class, make_school, make_student, make_user

PASSWORD = "a-very-secret-passphrase-42"


def test_a_whole_flow_logs_no_token_password_or_key(app, client, db, cli, caplog, capsys, tmp_path):
    caplog.set_level(logging.DEBUG)
    with db.session() as s:
        school = make_school(s, "THCS1")
        klass = make_class(s, school, "6A1")
        make_student(s, klass, "HS001", "Nguyễn Văn An", templates=2)
        no_consent = make_student(s, klass, "HS002", "Trần Thị Bình", consent=False)
        make_user(s, "admin", school=school, role="school_admin", password=PASSWORD)
        card = card_of(s, no_consent).payload
        card_secret = school.card_secret
        _, token = make_camera(s, school, "gate-1")

    assert client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 302
    client.post("/login", data={"username": "admin", "password": PASSWORD + "x"})  # a failed login is logged
    served = ServedDashboard(app).start()
    try:
        agent_client = DashboardClient(served.url, token, timeout_s=5.0)
        gallery_key = agent_client.get_gallery_key()
        sync = GallerySync(agent_client, "dlib_resnet_v1", 128, tmp_path / "gallery.json")
        assert sync.refresh() and sync.load_cached() in (True, False)
        outbox = Outbox(tmp_path / "outbox.sqlite3")
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        school_date = now.date().isoformat()
        outbox.record("checkin", {"captured_at": now.isoformat(), "student_code": "HS001", "distance": 0.3}, "a",
                      school_date)
        outbox.record("checkin", {"captured_at": now.isoformat(), "student_code": "HS002", "source": "qr",
                                  "card": card}, "b", school_date)
        outbox.record("checkin", {"captured_at": now.isoformat(), "student_code": "HS002", "source": "qr",
                                  "card": card[:-3] + "AAA"}, "c", school_date)  # forged: refused, logged
        Sender(outbox, agent_client).send_batch()
        outbox.close()
        with pytest.raises(DeliveryError):  # a wrong token is refused (and the refusal logged)
            DashboardClient(served.url, token[:-4] + "zzzz", timeout_s=5.0).get_gallery_key()
    finally:
        served.stop()
    assert cli("cards", "HS001", "--png", str(tmp_path / "card.png"))[0] == 0
    assert cli("keys", "status")[0] == 0
    printed = capsys.readouterr()

    data_key = installed_keyring().keys[0]
    secrets = {
        "camera token": token, "password": PASSWORD, "data key": TEST_DATA_KEY,
        "data key (hex)": base64.b64decode(TEST_DATA_KEY).hex(), "installed key": base64.b64encode(data_key).decode(),
        "gallery key": base64.b64encode(gallery_key).decode(), "gallery key (hex)": gallery_key.hex(),
        "card secret": card_secret, "card signature": card.rsplit("|", 1)[1],
        "session secret": app.config["SECRET_KEY"],
    }
    logged = caplog.text + printed.out + printed.err
    assert "bad_card" in caplog.text and len(caplog.records) > 10  # the flow did log, the refused card too
    leaked = [name for name, value in secrets.items() if value and value in logged]
    assert not leaked, f"logged: {leaked}"
