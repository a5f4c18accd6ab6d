"""Behind the school's reverse proxy, the dashboard sees each client's own address (for the login throttle)."""

import dataclasses

from flask import request

from dashboard import create_app


def remote_addr_seen(app, headers) -> str:
    seen = {}

    @app.route("/_whoami")
    def whoami():
        seen["addr"] = request.remote_addr
        return "ok"

    app.test_client().get("/_whoami", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    return seen["addr"]


def test_no_proxy_is_trusted_by_default(settings, db):
    app = create_app(settings, test_config={"TESTING": True}, database=db)
    assert remote_addr_seen(app, {"X-Forwarded-For": "203.0.113.7"}) == "10.0.0.1"


def test_one_trusted_proxy_gives_the_client_address(settings, db):
    app = create_app(dataclasses.replace(settings, trusted_proxies=1), test_config={"TESTING": True}, database=db)
    assert remote_addr_seen(app, {"X-Forwarded-For": "203.0.113.7"}) == "203.0.113.7"
