"""The district bench's pure parts: which page a path is, percentiles, the history's days, the session cookie."""

import datetime as dt

from flask import Flask, session

from bench.bench_district import percentile
from bench.district_load import session_cookie
from bench.district_seed import school_days_before
from bench.district_server import kind_of


def test_requests_are_named_by_page():
    assert kind_of("/classes/12", 200) == "roll"
    assert kind_of("/classes/12/report", 200) == "month"
    assert kind_of("/today", 200) == "today" and kind_of("/district", 200) == "district"
    assert kind_of("/api/v1/gallery", 304) == "gallery_304" and kind_of("/api/v1/gallery", 200) == "gallery"
    assert kind_of("/api/v1/checkins", 200) == "checkins" and kind_of("/classes/12/roll.csv", 200) == "other"


def test_percentiles_by_nearest_rank():
    values = list(range(1, 101))
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 1.0)) == (51, 95, 100)
    assert percentile([], 0.5) != percentile([], 0.5)  # NaN when nothing was measured


def test_the_history_is_the_weekdays_before_today():
    monday = dt.date(2026, 11, 30)
    days = school_days_before(monday, 6)
    assert days == [dt.date(2026, 11, d) for d in (20, 23, 24, 25, 26, 27)]


def test_the_session_cookie_is_one_flask_accepts():
    app = Flask("check")
    app.secret_key = "k" * 64
    app.config["SESSION_COOKIE_NAME"] = "attendance_session"

    @app.get("/")
    def show():
        return {"user": session.get("_user_id")}

    client = app.test_client()
    name, value = session_cookie("k" * 64, 7, "tok").split("=", 1)
    client.set_cookie(name, value)
    assert client.get("/").get_json() == {"user": "7:tok"}
    client.set_cookie(name, session_cookie("other" * 13, 7, "tok").split("=", 1)[1])
    assert client.get("/").get_json() == {"user": None}
