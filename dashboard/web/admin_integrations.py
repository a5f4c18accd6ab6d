"""Admin page of a school's integrations: its read-only API tokens (revoke) and webhooks (remove).

Tokens and webhook secrets are made on the command line and shown once; here they are only listed by
name, never shown again. Views are added to ``admin.bp``.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from attendance.cameras import find_api_token, list_api_tokens, revoke_api_token
from attendance.webhooks import list_webhooks, remove_webhook
from dashboard.db import get_db_session
from dashboard.auth import admin_required
from dashboard.web.access import now_at, require_school
from dashboard.web.admin import bp


@bp.route("/integrations")
@admin_required
def integrations():
    school = require_school()
    db = get_db_session()
    return render_template("admin/integrations.html", tokens=list_api_tokens(db, school),
                           webhooks=list_webhooks(db, school))


@bp.route("/integrations/tokens/<int:token_id>/revoke", methods=["POST"])
@admin_required
def revoke_token(token_id: int):
    school = require_school()
    db = get_db_session()
    row = revoke_api_token(db, find_api_token(db, token_id, school), now_at(), actor=f"user:{current_user.username}")
    db.commit()
    flash(_("Token %(name)s revoked: it no longer reads anything.", name=row.name), "success")
    return redirect(url_for("admin.integrations"))


@bp.route("/integrations/webhooks/<int:hook_id>/remove", methods=["POST"])
@admin_required
def remove_hook(hook_id: int):
    school = require_school()
    db = get_db_session()
    hook = remove_webhook(db, hook_id, school, actor=f"user:{current_user.username}")
    db.commit()
    flash(_("Webhook %(url)s removed.", url=hook.url), "success")
    return redirect(url_for("admin.integrations"))
