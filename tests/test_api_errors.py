"""One JSON error shape for every error under /api/v1, with the right status."""

import pytest

from factories import make_camera, make_school


@pytest.fixture
def headers(db):
    with db.session() as s:
        _, token = make_camera(s, make_school(s, "THCS1"), "gate-1")
    return {"Authorization": f"Bearer {token}"}


def assert_error_shape(response, status, code=None):
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code


def test_unknown_path_is_json_404(client):
    assert_error_shape(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_error_shape(client.post("/api/v1/checkins/42"), 404, "not_found")


def test_wrong_method_is_json_405_with_allow(client):
    response = client.delete("/api/v1/checkins")
    assert_error_shape(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    assert_error_shape(client.put("/api/v1/gallery"), 405)


def test_body_over_the_limit_is_json_413(app, client, headers):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post("/api/v1/checkins", data=b'{"events": [' + b" " * 4096 + b"]}", headers=headers,
                           content_type="application/json")
    assert_error_shape(response, 413, "request_entity_too_large")


def test_malformed_json_is_400_and_validation_is_422(client, headers):
    bad = client.post("/api/v1/heartbeat", data=b"{", headers=headers, content_type="application/json")
    assert_error_shape(bad, 400, "malformed_json")
    assert_error_shape(client.post("/api/v1/checkins", json={"events": 3}, headers=headers), 422, "invalid_input")
    assert_error_shape(client.get("/api/v1/gallery", headers=headers), 422, "invalid_input")


def test_auth_errors_have_the_shape(client, headers):
    assert_error_shape(client.get("/api/v1/gallery?model=x"), 401, "unauthorized")
    assert_error_shape(client.get("/api/v1/roll?class=6A1", headers=headers), 403, "forbidden")


def test_pages_outside_the_api_keep_their_own_errors(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert not (response.is_json and "error" in (response.get_json() or {}))
