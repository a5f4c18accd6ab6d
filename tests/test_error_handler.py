"""One error handler and one status map (dashboard/errors.py): the same status for a page and for the API."""

import ast

import pytest

from attendance.errors import AttendanceError, InvalidInput
from conftest import REPO_ROOT
from dashboard.errors import DEFAULT_STATUS, ERROR_STATUS, status_for


class Unmapped(AttendanceError):
    code = "not_in_the_map"


@pytest.fixture
def failing_app(app):
    """The test app with views that raise, under the API and on a page; exceptions answered as in production."""
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def refuse():
        raise InvalidInput("the day is not a date")

    def fail():
        raise RuntimeError("a bug with a secret in its message")

    for prefix in ("/api/v1", ""):
        app.add_url_rule(f"{prefix}/test-refuse", f"refuse{prefix}", refuse, methods=["GET", "POST"])
        app.add_url_rule(f"{prefix}/test-fail", f"fail{prefix}", fail)
    return app


def test_invalid_input_is_422_on_a_page_and_in_the_api(failing_app):
    client = failing_app.test_client()
    page = client.get("/test-refuse")
    assert page.status_code == ERROR_STATUS["invalid_input"] == 422
    assert page.mimetype == "text/html"
    api = client.get("/api/v1/test-refuse")
    assert api.status_code == 422
    assert api.get_json() == {"error": {"code": "invalid_input", "message": "the day is not a date"}}


def test_unstorable_text_is_the_same_refusal_everywhere(client):
    assert client.get("/login?next=%00").status_code == 422
    api = client.get("/api/v1/gallery?model=%00")
    assert api.status_code == 422 and api.get_json()["error"]["code"] == "invalid_input"


def test_a_refused_form_goes_back_with_a_message(failing_app):
    client = failing_app.test_client()
    response = client.post("/test-refuse", headers={"Referer": "http://localhost/today?day=x"})
    assert response.status_code == 302 and response.headers["Location"] == "/today?day=x"
    assert client.post("/api/v1/test-refuse").status_code == 422  # the API never redirects


def test_a_server_failure_is_json_in_the_api_and_a_page_elsewhere_without_details(failing_app):
    client = failing_app.test_client()
    api = client.get("/api/v1/test-fail")
    assert api.status_code == 500
    assert api.get_json()["error"]["code"] == "internal_error"
    assert "secret" not in api.get_data(as_text=True)
    page = client.get("/test-fail")
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert "secret" not in page.get_data(as_text=True)


def test_a_code_outside_the_map_is_a_refusal():
    assert status_for(Unmapped.code) == DEFAULT_STATUS == 422
    assert status_for("conflict") == 409 and status_for("model_error") == 503


def api_errors_raised() -> list[tuple[str, int, str]]:
    """(file, status, code) of every ``ApiError(status, "code", ...)`` in the dashboard."""
    found = []
    for path in sorted((REPO_ROOT / "dashboard").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "ApiError" and len(node.args) >= 2
                    and all(isinstance(a, ast.Constant) for a in node.args[:2])):
                found.append((path.name, node.args[0].value, node.args[1].value))
    return found


def test_every_api_error_has_the_status_the_map_gives_its_code():
    raised = api_errors_raised()
    assert len(raised) >= 10, "the scan found no ApiError: has it been renamed?"
    wrong = [(name, status, code) for name, status, code in raised if ERROR_STATUS.get(code) != status]
    assert not wrong, f"ApiError statuses that disagree with dashboard.errors.ERROR_STATUS: {wrong}"


def test_now_at_is_defined_once():
    homes = [path.relative_to(REPO_ROOT).as_posix() for path in sorted((REPO_ROOT / "dashboard").rglob("*.py"))
             if any(isinstance(node, ast.FunctionDef) and node.name == "now_at"
                    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))]
    assert homes == ["dashboard/clock.py"]
