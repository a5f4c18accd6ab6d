"""Property tests of the check-in API's event validation: whatever an event holds, the batch is answered.

For any batch mixing well-formed events with arbitrary JSON-ish ones (hostile text, NaN, huge numbers,
timestamps at the ends of the calendar, wrong types), the answer is a 200 with one result per event in
order, every well-formed event is ``created``, every stored row is one answered ``created``, and a refused
event gets one of the documented error codes.
"""

import itertools
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from attendance.db.models import CheckIn, UnknownFace
from test_api_checkins import event, gate  # noqa: F401  (gate: fixture)

ERROR_CODES = {"invalid_event", "unknown_student", "no_consent", "too_old", "bad_snapshot"}
_batch_numbers = itertools.count(1)

hostile_text = st.one_of(
    st.text(max_size=80),  # any code point, surrogates and NUL included
    st.sampled_from(["", "\x00", "HS001\x00", "\ud800", "a\udfffb", "\n", "HS001\r\n", "x" * 65, "H" * 33,
                     "HS001", "HS002", "dlib_resnet_v1"]),
)
timestamps = st.one_of(
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z",
                     "9999-12-31T23:59:59Z", "2026-09-07T06:55:00", "2026-09-07T06:55:00+07:00",
                     "2026-09-07T06:55:00+23:59", "2026-02-30T00:00:00Z", "", "T"]),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    hostile_text,
)
numbers = st.one_of(st.integers(min_value=-2**70, max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.booleans(), st.none(), hostile_text)
scalars = st.one_of(numbers, hostile_text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner,
                                                                                               max_size=3), max_leaves=8)
liveness = st.one_of(st.none(), st.dictionaries(hostile_text, scalars, max_size=5), json_values)

arbitrary_event = st.fixed_dictionaries({}, optional={
    "event_id": hostile_text, "seq": numbers, "student_code": hostile_text, "captured_at": timestamps,
    "distance": numbers, "margin": numbers, "votes": numbers, "model_id": hostile_text, "liveness": liveness,
    "snapshot_jpeg_b64": st.one_of(hostile_text, st.sampled_from(["/9j/4AAQ", "/9j/", "AAAA", "%%%"])),
    "best_distance": numbers,
}) | json_values

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def post_raw(client, gate, events, path):
    body = json.dumps({"events": events}, allow_nan=True)  # NaN and Infinity as bare tokens, as Python writes them
    return client.post(path, data=body, content_type="application/json", headers=gate["headers"])


def check_batch(client, db, gate, model, path, good, others, position):
    prefix = f"b{next(_batch_numbers)}-"
    good = [dict(e, event_id=prefix + e["event_id"]) for e in good]
    batch = good[:position] + others + good[position:]
    with db.session() as s:
        before = s.scalar(select(func.count()).select_from(model))
    response = post_raw(client, gate, batch, path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    results = response.get_json()["results"]
    assert len(results) == len(batch)
    by_event = dict(zip(map(id, batch), results))
    for e in good:
        assert by_event[id(e)]["status"] == "created", by_event[id(e)]
    for result in results:
        assert result["status"] in ("created", "duplicate", "error")
        if result["status"] == "error":
            assert result["error"]["code"] in ERROR_CODES and result["error"]["message"]
    with db.session() as s:
        after = s.scalar(select(func.count()).select_from(model))
    assert after - before == sum(r["status"] == "created" for r in results)


@PROPERTY_SETTINGS
@given(others=st.lists(arbitrary_event, min_size=1, max_size=4), position=st.integers(0, 2))
def test_any_checkin_batch_is_answered_and_its_good_events_stored(client, db, gate, others, position):
    good = [event(1), event(2, "HS002")]
    check_batch(client, db, gate, CheckIn, "/api/v1/checkins", good, others, position)


@PROPERTY_SETTINGS
@given(others=st.lists(arbitrary_event, min_size=1, max_size=4), position=st.integers(0, 2))
def test_any_unknown_face_batch_is_answered_and_its_good_events_stored(client, db, gate, others, position):
    good = [{"event_id": f"u-{n}", "seq": n, "captured_at": "2026-09-07T06:58:00+07:00"} for n in (1, 2)]
    check_batch(client, db, gate, UnknownFace, "/api/v1/unknowns", good, others, position)


@PROPERTY_SETTINGS
@given(captured_at=timestamps)
def test_parse_aware_datetime_answers_a_utc_time_or_an_event_error(captured_at):
    import datetime as dt

    from attendance.checkin_fields import EventError, parse_aware_datetime

    try:
        parsed = parse_aware_datetime(captured_at)
    except EventError as err:
        assert err.code == "invalid_event"
    else:
        assert parsed.utcoffset() == dt.timedelta(0)
