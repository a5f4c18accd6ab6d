"""The agent's SQLite outbox: one transaction per decision, once per student per day, and crash safety."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO_ROOT

from camera_agent.outbox import Outbox, checkin_key


def checkin_body(code="HS1"):
    return {"student_code": code, "captured_at": "2026-09-07T06:30:00+07:00", "distance": 0.3, "margin": 0.2,
            "votes": 2, "model_id": "dlib_resnet_v1", "snapshot_jpeg_b64": "AAAA"}


def test_events_get_uuid_ids_and_increasing_sequence_numbers(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    first = outbox.record("checkin", checkin_body("HS1"), checkin_key("2026-09-07", "HS1"), "2026-09-07")
    second = outbox.record("unknown", {"captured_at": "x"}, "unknown:a:1:1", "2026-09-07")
    assert (first.seq, second.seq) == (1, 2)
    assert len(first.event_id) == 36 and first.event_id != second.event_id
    assert first.payload["event_id"] == first.event_id and first.payload["seq"] == 1
    assert first.payload["student_code"] == "HS1"
    outbox.close()


def test_a_student_is_checked_in_once_per_school_day(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    key = checkin_key("2026-09-07", "HS1")
    assert outbox.record("checkin", checkin_body(), key, "2026-09-07") is not None
    assert outbox.record("checkin", checkin_body(), key, "2026-09-07") is None
    assert outbox.record("checkin", checkin_body(), checkin_key("2026-09-08", "HS1"), "2026-09-08") is not None
    assert outbox.stats().pending == 2
    outbox.close()


def test_the_once_a_day_record_survives_delivery_and_restart(tmp_path):
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path)
    event = outbox.record("checkin", checkin_body(), checkin_key("2026-09-07", "HS1"), "2026-09-07")
    outbox.delete([event.event_id])
    outbox.close()
    reopened = Outbox(path)
    assert reopened.record("checkin", checkin_body(), checkin_key("2026-09-07", "HS1"), "2026-09-07") is None
    # Sequence numbers are never reused, even after the events were delivered and deleted.
    assert reopened.record("unknown", {}, "unknown:x", "2026-09-07").seq == 2
    reopened.close()


def test_next_batch_is_the_oldest_events_of_one_kind_in_order(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    outbox.record("unknown", {}, "u1", "2026-09-07")
    for n in range(3):
        outbox.record("checkin", checkin_body(f"HS{n}"), f"c{n}", "2026-09-07")
    batch = outbox.next_batch(10)
    assert [e.kind for e in batch] == ["unknown"]
    outbox.delete([batch[0].event_id])
    assert [e.seq for e in outbox.next_batch(2)] == [2, 3]
    outbox.close()


def test_dead_letters_keep_the_error_but_not_the_snapshot(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    event = outbox.record("checkin", checkin_body(), "c1", "2026-09-07")
    outbox.dead_letter(event.event_id, "unknown_student", "no such student")
    assert outbox.stats().pending == 0 and outbox.stats().dead == 1
    assert outbox.dead_letters()[0]["error_code"] == "unknown_student"
    with sqlite3.connect(tmp_path / "o.sqlite3") as db:
        body = json.loads(db.execute("SELECT body FROM dead_letters").fetchone()[0])
    assert "snapshot_jpeg_b64" not in body and body["student_code"] == "HS1"
    outbox.close()


def fail_writes_to(outbox, table):
    """Make every write to ``table`` fail the way an I/O error does: the statement aborts, the transaction stays
    open (a TEMP trigger lives on the outbox's own connection only)."""
    outbox._db.execute(f"CREATE TEMP TRIGGER fail_{table} BEFORE DELETE ON {table} "
                       "BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END")
    outbox._db.execute(f"CREATE TEMP TRIGGER fail_{table}_insert BEFORE INSERT ON {table} "
                       "BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END")


def heal(outbox, table):
    outbox._db.execute(f"DROP TRIGGER fail_{table}")
    outbox._db.execute(f"DROP TRIGGER fail_{table}_insert")


@pytest.mark.parametrize("operation, table", [("delete", "events"), ("dead_letter", "events"),
                                              ("dead_letter", "dead_letters")])
def test_a_failed_delete_or_dead_letter_rolls_back_and_later_writes_work(tmp_path, operation, table):
    outbox = Outbox(tmp_path / "o.sqlite3")
    event = outbox.record("checkin", checkin_body("HS1"), "c1", "2026-09-07")
    fail_writes_to(outbox, table)
    with pytest.raises(sqlite3.DatabaseError, match="injected"):
        if operation == "delete":
            outbox.delete([event.event_id])
        else:
            outbox.dead_letter(event.event_id, "unknown_student", "no such student")
    assert not outbox._db.in_transaction  # not left inside BEGIN IMMEDIATE
    assert (outbox.stats().pending, outbox.stats().dead) == (1, 0)  # nothing half done
    heal(outbox, table)
    assert outbox.record("checkin", checkin_body("HS2"), "c2", "2026-09-07") is not None  # BEGIN works again
    outbox.dead_letter(event.event_id, "unknown_student", "no such student")
    assert (outbox.stats().pending, outbox.stats().dead) == (1, 1)
    outbox.close()


def test_a_full_disk_while_dead_lettering_loses_nothing_and_the_outbox_keeps_working(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    event = outbox.record("checkin", {**checkin_body("HS1"), "note": "x" * 50_000}, "c1", "2026-09-07")
    pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
    outbox._db.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: "database or disk is full"
    with pytest.raises(sqlite3.OperationalError, match="full"):
        outbox.dead_letter(event.event_id, "unknown_student", "no such student")
    assert not outbox._db.in_transaction
    assert (outbox.stats().pending, outbox.stats().dead) == (1, 0)
    outbox.delete([event.event_id])  # a write that needs no new page still works
    assert outbox.stats().pending == 0
    outbox.close()


def test_old_decisions_are_pruned(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    outbox.record("checkin", checkin_body(), checkin_key("2026-09-01", "HS1"), "2026-09-01")
    outbox.record("checkin", checkin_body(), checkin_key("2026-09-07", "HS1"), "2026-09-07")
    assert outbox.prune_decisions("2026-09-05") == 1
    assert outbox.record("checkin", checkin_body(), checkin_key("2026-09-07", "HS1"), "2026-09-07") is None  # kept
    assert outbox.record("checkin", checkin_body(), checkin_key("2026-09-01", "HS1"), "2026-09-01") is not None
    outbox.close()


def test_the_outbox_is_wal_with_full_sync_and_private(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3")
    assert outbox._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    if os.name == "posix":
        assert (tmp_path / "o.sqlite3").stat().st_mode & 0o077 == 0
    outbox.close()


WRITER = textwrap.dedent("""
    import sys
    from camera_agent.outbox import Outbox, checkin_key
    outbox = Outbox(sys.argv[1])
    n = 0
    while True:
        n += 1
        event = outbox.record("checkin", {"student_code": f"HS{n}", "pad": "x" * 2000},
                              checkin_key("2026-09-07", f"HS{n}"), "2026-09-07")
        print(event.seq, event.event_id, flush=True)
""")


def test_a_writer_killed_with_sigkill_loses_no_committed_event_and_reuses_no_sequence_number(tmp_path):
    path = tmp_path / "o.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                            cwd=REPO_ROOT)
    committed = []
    try:
        while len(committed) < 40:
            line = proc.stdout.readline()
            assert line, "the writer died early"
            seq, event_id = line.split()
            committed.append((int(seq), event_id))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = dict(db.execute("SELECT seq, event_id FROM events").fetchall())
        decided = {row[0] for row in db.execute("SELECT event_id FROM decisions")}
    for seq, event_id in committed:  # everything reported as committed is there, with its number
        assert stored[seq] == event_id and event_id in decided
    assert sorted(stored) == list(range(1, len(stored) + 1))  # no gaps, no duplicates
    assert set(stored.values()) == decided  # each stored event and its decision, or neither
    outbox = Outbox(path)
    again = outbox.record("checkin", {"student_code": "HS1"}, checkin_key("2026-09-07", "HS1"), "2026-09-07")
    assert again is None  # HS1 was committed before the kill: no second check-in
    new = outbox.record("checkin", {"student_code": "NEW"}, checkin_key("2026-09-07", "NEW"), "2026-09-07")
    assert new.seq == max(stored) + 1
    outbox.close()
