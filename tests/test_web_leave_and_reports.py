"""Pages: leave requests of a class, students who cannot be recognised yet, the month grid, printing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from attendance.db.models import AuditEntry, LeaveRequest
from test_web_pages import TODAY, admin, login, teacher, world  # noqa: F401 (fixtures)


def test_a_teacher_excuses_a_student_ahead_and_the_roll_shows_it(teacher, world, db):
    page = teacher.get(f"/classes/{world['a1']}/leave").get_data(as_text=True)
    assert "Đơn xin nghỉ mới" in page and "Lê Văn Cường" in page and "Phạm Thị Dung" not in page  # own class only
    tomorrow, after = TODAY + dt.timedelta(days=1), TODAY + dt.timedelta(days=2)
    response = teacher.post(f"/classes/{world['a1']}/leave", data={
        "student_id": world["cuong"], "first_date": tomorrow.strftime("%d/%m/%Y"),
        "last_date": after.strftime("%d/%m/%Y"), "quick": "family", "reason": "đám cưới anh trai"})
    assert response.status_code == 302
    page = teacher.get(response.headers["Location"]).get_data(as_text=True)
    assert "được nghỉ có phép từ 10/03/2026 đến 11/03/2026" in page
    assert "Việc gia đình: đám cưới anh trai" in page and "Nguyễn Thị Lan" in page  # reason and who created it
    roll = teacher.get(f"/classes/{world['a1']}?date={tomorrow.isoformat()}").get_data(as_text=True)
    row = roll[roll.index('data-student="HS003"'):]
    assert "badge excused" in row[:2500] and "Nghỉ có đơn: Việc gia đình: đám cưới anh trai" in row[:4000]
    with db.session() as s:
        leave = s.scalar(select(LeaveRequest))
        assert (leave.first_date, leave.last_date, leave.created_by) == (tomorrow, after, "user:lan")
        assert s.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc())) == "leave.create"
    teacher.post(f"/classes/{world['a1']}/leave/{leave.id}/cancel")
    page = teacher.get(f"/classes/{world['a1']}/leave").get_data(as_text=True)
    assert "Đã hủy" in page
    roll = teacher.get(f"/classes/{world['a1']}?date={tomorrow.isoformat()}").get_data(as_text=True)
    assert "Nghỉ có đơn" not in roll


def test_a_leave_is_refused_for_a_bad_range_or_another_class(app, client, world, db):
    login(client, "lan")
    url = f"/classes/{world['a1']}/leave"
    response = client.post(url, data={"student_id": world["cuong"], "first_date": "12/03/2026",
                                      "last_date": "10/03/2026", "quick": "sick", "reason": ""})
    assert response.status_code == 302
    assert "flash error" in client.get(url).get_data(as_text=True)
    assert client.post(url, data={"student_id": world["dung"], "first_date": "10/03/2026",
                                  "quick": "sick"}).status_code == 403  # Dung is in 6A2, not Lan's class
    assert client.post(f"/classes/{world['a2']}/leave", data={"student_id": world["dung"], "first_date": "10/03/2026",
                                                             "quick": "sick"}).status_code == 403
    with db.session() as s:
        assert s.scalar(select(LeaveRequest)) is None


def test_a_leave_of_another_class_cannot_be_cancelled_from_this_one(app, client, world, db):
    login(client, "mai")  # teacher of 6A2
    client.post(f"/classes/{world['a2']}/leave", data={"student_id": world["dung"], "first_date": "10/03/2026",
                                                        "quick": "sick"})
    with db.session() as s:
        leave_id = s.scalar(select(LeaveRequest.id))
    client.post("/logout")
    login(client, "lan")
    assert client.post(f"/classes/{world['a1']}/leave/{leave_id}/cancel").status_code == 404
    with db.session() as s:
        assert s.get(LeaveRequest, leave_id).cancelled_at is None


def test_the_class_roll_and_the_school_list_who_cannot_be_recognised(app, admin, world, db):
    page = admin.get(f"/classes/{world['a1']}").get_data(as_text=True)
    card = page[page.index('id="not-recognised"'):]
    # An has templates; Bình and Cường have none (the test world has no model installed: any model counts)
    assert "Chưa thể nhận diện: 2" in card and "Trần Thị Bình" in card and "Chưa có ảnh" in card
    assert "Nguyễn Văn An" not in card[:card.index("</details>")]
    school = admin.get("/school/not-recognised").get_data(as_text=True)
    assert "Phạm Thị Dung" in school and "6A2" in school and "Chưa có ảnh: 3" in school
    assert "/school/not-recognised" in admin.get("/today").get_data(as_text=True)


def test_teachers_do_not_get_the_school_list(teacher, world):
    assert teacher.get("/school/not-recognised").status_code == 403
    assert "/school/not-recognised" not in teacher.get("/today").get_data(as_text=True)


def test_the_month_report_has_a_day_by_day_grid(teacher, world):
    page = teacher.get(f"/classes/{world['a1']}/report?month=2026-03").get_data(as_text=True)
    grid = page[page.index('id="daygrid"'):]
    assert grid.count("<th class=") == 32  # the student column and 31 days
    row = grid[grid.index('data-student="HS003"'):]
    row = row[:row.index("</tr>")]
    assert row.count("<td") == 32 and 'class="absent" title="09/03/2026: Vắng">K</td>' in row
    assert 'class="no_school"' in row  # weekends
    an = grid[grid.index('data-student="HS001"'):]
    assert 'title="09/03/2026: Đúng giờ">✓</td>' in an[:an.index("</tr>")]
    assert "data-print" in page and 'class="monthpage"' in page


def test_print_styles_hide_the_controls_and_print_the_grid_landscape():
    css = (Path(__file__).resolve().parents[1] / "dashboard" / "static" / "css" / "app.css").read_text(encoding="utf-8")
    printing = css[css.index("@media print {") + len("@media print {"):]
    hidden = printing[:printing.index("{")]
    for selector in (".topbar", ".actions", "details.mark", ".segmented", ".live"):
        assert selector in hidden
    assert "@page landscape" in css and ".monthpage { page: landscape; }" in printing
