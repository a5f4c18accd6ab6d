"""The dashboard's web pages: today, class rolls, students, reports, unknown faces, district, admin.

Every page needs a logged-in user; what a user sees is scoped in ``dashboard.web.access`` (a teacher only
their classes, a school admin their school, a district admin every school). Views keep to reading and
calling the core; rules about attendance live in ``attendance.roll``.
"""

from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    """Register every page blueprint and the template helpers they share."""
    from dashboard.web import admin, admin_audit, admin_people, calibration, pages, records, roll_pages, trends
    from dashboard.web.access import inject_template_context
    from flask_babel import gettext

    from dashboard.error_text import detail_for_page
    from dashboard.web.paging import page_args

    for blueprint in (pages.bp, roll_pages.bp, records.bp, admin.bp, admin_people.bp, admin_audit.bp, calibration.bp,
                      trends.bp):
        app.register_blueprint(blueprint)
    app.context_processor(inject_template_context)
    app.jinja_env.globals["page_args"] = page_args
    app.jinja_env.filters["error_detail"] = lambda message: detail_for_page(message) or gettext("this row is not valid")
