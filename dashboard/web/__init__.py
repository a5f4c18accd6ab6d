"""The dashboard's web pages: today, class rolls, students, reports, unknown faces, district, admin.

Every page needs a logged-in user; what a user sees is scoped in ``dashboard.web.access`` (a teacher only
their classes, a school admin their school, a district admin every school). Views keep to reading and
calling the core; rules about attendance live in ``attendance.roll``.
"""

from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    """Register every page blueprint and the template helpers they share."""
    # admin_import and admin_integrations add their views to admin_people.bp and admin.bp
    from dashboard.web import (  # noqa: F401
        admin, admin_audit, admin_import, admin_integrations, admin_people, calibration, consent_pages, leave_pages,
        live, pages, readiness_pages, records, roll_pages, subject_pages, trends,
    )
    from dashboard.forms import typed
    from dashboard.web.access import inject_template_context
    from flask_babel import gettext

    from dashboard.error_text import detail_for_page
    from dashboard.web.paging import page_args

    for blueprint in (pages.bp, live.bp, roll_pages.bp, leave_pages.bp, readiness_pages.bp, records.bp, admin.bp,
                      admin_people.bp, admin_audit.bp, calibration.bp, consent_pages.bp, subject_pages.bp, trends.bp):
        app.register_blueprint(blueprint)
    app.context_processor(inject_template_context)
    app.context_processor(lambda: {"typed": typed})
    app.jinja_env.globals["page_args"] = page_args
    app.jinja_env.filters["error_detail"] = lambda message: detail_for_page(message) or gettext("this row is not valid")
