"""The query plans behind the district bench's pages: each page's statements, timed, and the slowest explained.

Runs each page once in-process against the seeded database (after a warm-up run), records every statement
with its time, and prints the count, the total, and ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest few: the
place to see a missing index (a Seq Scan over check-ins) or an N+1 (a count of statements that grows with
the class or the school).
"""

from __future__ import annotations

import datetime as dt
import os
import time

from sqlalchemy import event

from bench.district_seed import HCM, MODEL_ID, District

SLOWEST = 3


def explain_pages(url: str, env: dict[str, str], district: District, secret_key: str) -> None:
    """Print, per page, its statements' count and time and the plans of its ``SLOWEST`` statements."""
    from attendance.settings import Settings, load_settings
    from bench.district_load import session_cookie, read_gallery_etags
    from dashboard.app import create_app

    os.environ.update({k: v for k, v in env.items() if k.startswith("ATTENDANCE_")})
    app = create_app(load_settings(Settings), test_config={"TESTING": True})
    engine = app.extensions["attendance_db"].engine
    teacher, token, class_id = district.teachers[0]
    admin, admin_token, _ = district.school_admins[0]
    month = dt.datetime.now(HCM).strftime("%Y-%m")
    school_id, camera_token = district.camera_tokens[0]
    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    pages = [
        ("class roll", f"/classes/{class_id}", {"Cookie": session_cookie(secret_key, teacher, token)}),
        ("Today", "/today", {"Cookie": session_cookie(secret_key, admin, admin_token)}),
        ("district", "/district", {"Cookie": session_cookie(secret_key, *district.district_admin)}),
        ("month report", f"/classes/{class_id}/report?month={month}",
         {"Cookie": session_cookie(secret_key, teacher, token)}),
        ("gallery 304", f"/api/v1/gallery?model={MODEL_ID}",
         {"Authorization": f"Bearer {camera_token}", "If-None-Match": read_gallery_etags(libpq)[school_id]}),
    ]
    statements: list[tuple[str, object, float]] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        started = conn.info["bench_started"].pop()
        statements.append((statement, parameters, (time.perf_counter() - started) * 1000))

    print("\n## Query plans (EXPLAIN ANALYZE on the seeded database)\n")
    for name, path, headers in pages:
        client = app.test_client()
        cookie = headers.pop("Cookie", "")
        if cookie:  # the test client sends its own cookie jar, not a Cookie header
            client.set_cookie(*cookie.split("=", 1))
        client.get(path, headers=headers)  # warm: caches, first connection
        statements.clear()
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        started = time.perf_counter()
        status = client.get(path, headers=headers).status_code
        total_ms = (time.perf_counter() - started) * 1000
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        sql_ms = sum(ms for _, _, ms in statements)
        print(f"### {name} ({path}): HTTP {status}, {total_ms:.1f} ms in process, {len(statements)} statements, "
              f"{sql_ms:.1f} ms in the database\n")
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for statement, parameters, ms in sorted(statements, key=lambda s: -s[2])[:SLOWEST]:
                if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                print(f"{ms:.1f} ms: {' '.join(statement.split())[:300]}\n```\n{plan}\n```\n")
            raw.rollback()
        finally:
            raw.close()
    app.extensions["attendance_db"].close()
