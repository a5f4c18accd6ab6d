"""Attendance trends: a month's on-time, late and absent rates per school day, for a class or the school,
drawn as an inline SVG chart (no JavaScript library). The numbers come from ``attendance.trends``."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from attendance.trends import TREND_STATUSES, compute_month_trend
from dashboard.db import get_db_session
from dashboard.auth import login_required
from dashboard.forms import parse_id
from dashboard.web.access import now_at, parse_month, require_class, require_school, school_today, visible_classes

bp = Blueprint("trends", __name__)

CHART_WIDTH, CHART_HEIGHT = 640, 220  # viewBox units; the SVG scales to the card's width
CHART_LEFT, CHART_BOTTOM, CHART_TOP = 34, 22, 8


@bp.route("/reports/trends")
@login_required
def month_trend():
    school = require_school()
    classes = visible_classes(school)
    class_id = request.args.get("class_id", "")
    is_admin = current_user.role in ("school_admin", "district_admin")
    if class_id.isdigit():
        school_class = require_class(parse_id(class_id) or 0)  # "0", "²", past 2**31 - 1: 404
    elif is_admin:
        school_class = None  # the whole school
    elif classes:
        school_class = classes[0]
    else:
        abort(404)
    year, month = parse_month(request.args.get("month"), school_today(school))
    trend = compute_month_trend(get_db_session(), school, year, month, now_at(),
                                class_id=school_class.id if school_class else None)
    first = dt.date(year, month, 1)
    return render_template(
        "trends.html", trend=trend, school_class=school_class, classes=classes, is_admin=is_admin,
        statuses=TREND_STATUSES, bars=chart_bars(trend.days), month_value=f"{year:04d}-{month:02d}",
        month_label=f"{month:02d}/{year:04d}", previous_month=(first - dt.timedelta(days=1)).strftime("%Y-%m"),
        next_month=(first + dt.timedelta(days=32)).strftime("%Y-%m"), class_codes={c.id: c.code for c in classes},
        width=CHART_WIDTH, height=CHART_HEIGHT, left=CHART_LEFT, bottom=CHART_BOTTOM, top=CHART_TOP)


def chart_bars(days) -> list[dict]:
    """Per day a bar: its x, width and day label, and one segment (status, y, height, percent) per status."""
    plot_w = CHART_WIDTH - CHART_LEFT - 6
    plot_h = CHART_HEIGHT - CHART_BOTTOM - CHART_TOP
    step = plot_w / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        y = CHART_TOP + plot_h
        segments = []
        for status in TREND_STATUSES:
            height = plot_h * day.rate(status)
            y -= height
            if height > 0:
                segments.append({"status": status, "y": y, "height": height,
                                 "percent": round(100 * day.rate(status), 1), "count": day.counts[status]})
        bars.append({"x": CHART_LEFT + i * step + step * 0.15, "width": step * 0.7, "label": day.school_date.day,
                     "date": day.school_date, "segments": segments, "decided": day.decided,
                     "center": CHART_LEFT + i * step + step / 2})
    return bars
