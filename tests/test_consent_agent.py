"""Withdrawal seen from the gate: the agent's next gallery sync drops the student (agent code against the real
dashboard app, through a requests-like shim over Flask's test client: no network)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from sqlalchemy import select

from attendance.consent import withdraw_consent
from attendance.db.models import Student
from camera_agent.client import DashboardClient
from camera_agent.gallery_sync import GallerySync
from factories import make_camera, make_class, make_school, make_student

NOW = dt.datetime(2026, 9, 7, 0, 30, tzinfo=dt.timezone.utc)


class FlaskClientSession:
    """What DashboardClient needs of ``requests.Session``, answered by the Flask app in process."""

    def __init__(self, client) -> None:
        self.client = client

    def request(self, method, url, *, headers=None, timeout=None, params=None, json=None):
        path = url.split("://", 1)[-1].split("/", 1)[-1]
        response = self.client.open("/" + path, method=method, headers=headers, query_string=params, json=json)
        return SimpleNamespace(status_code=response.status_code, headers=response.headers,
                               json=lambda: response.get_json(force=True))


def test_the_agent_stops_recognising_a_student_at_its_next_sync_after_withdrawal(app, client, db, instance, tmp_path):
    app.config["CLOCK"] = lambda: NOW
    with db.session() as s:
        klass = make_class(s, make_school(s, "THCS1"), "6A1")
        make_student(s, klass, "HS001", templates=2)
        make_student(s, klass, "HS002", templates=2)
        _, token = make_camera(s, klass.school, "gate-1")
    dashboard = DashboardClient("http://dashboard", token, session=FlaskClientSession(client))
    sync = GallerySync(dashboard, "dlib_resnet_v1", 128, tmp_path / "gallery.json")
    assert sync.refresh() and set(sync.current.names) == {"HS001", "HS002"}
    assert not sync.refresh()  # nothing changed: 304
    with db.session() as s:
        withdraw_consent(s, instance, s.scalar(select(Student).where(Student.student_code == "HS001")))
    assert sync.refresh()
    assert set(sync.current.names) == {"HS002"} and "HS001" not in sync.current.gallery.student_keys
    restarted = GallerySync(dashboard, "dlib_resnet_v1", 128, tmp_path / "gallery.json")
    assert restarted.load_cached() and set(restarted.current.names) == {"HS002"}  # the (sealed) disk copy too
    assert b"HS001" not in (tmp_path / "gallery.json").read_bytes()
