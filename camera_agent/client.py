"""The dashboard's JSON API as the agent sees it: five calls, and errors sorted into retry-later or too-large.

The agent reaches the dashboard only through this module (never by importing it). The token is sent as
``Authorization: Bearer ...`` and never logged. A refusal of a whole request says nothing final about the
events in it: a 404 or 405 is as likely a reverse proxy or a wrong ``server_url`` path as anything the
events did, so every whole-request error but 413 is "retry later"; only the server's per-event ``error``
results (in a 200 answer) are final, and the sender handles those.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import logging
import time
from dataclasses import dataclass
from typing import Any

import requests

logger = logging.getLogger(__name__)

EVENT_PATHS = {"checkin": "/api/v1/checkins", "unknown": "/api/v1/unknowns"}
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
AUTH_STATUSES = {401, 403}
ROUTING_STATUSES = {404, 405}
TOO_LARGE_STATUS = 413


class DeliveryError(Exception):
    """A request did not get a usable answer. ``retry`` is False only for 413 (the same request will be
    refused again: send less); ``status`` is the HTTP status, None when there was no answer."""

    def __init__(self, message: str, *, retry: bool, status: int | None = None, code: str = "",
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.status = status
        self.code = code
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class GalleryResponse:
    """A gallery download: ``body`` is None when the server said 304 (ours is current)."""

    body: dict[str, Any] | None
    etag: str | None


class DashboardClient:
    """HTTP calls to one dashboard with one camera token."""

    def __init__(self, server_url: str, token: str, *, timeout_s: float = 10.0,
                 session: requests.Session | None = None, user_agent: str = "camera-agent") -> None:
        self.server_url = server_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = session or requests.Session()
        self._headers = {"Authorization": f"Bearer {token}", "User-Agent": user_agent}

    def post_events(self, kind: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Post a batch of check-ins or unknowns; returns the server's per-event results."""
        body = self._request("POST", EVENT_PATHS[kind], json={"events": events})
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise DeliveryError("the server's answer has no results list", retry=True)
        return results

    def post_heartbeat(self, payload: dict[str, Any]) -> None:
        self._request("POST", "/api/v1/heartbeat", json=payload)

    def get_gallery(self, model_id: str, etag: str | None = None) -> GalleryResponse:
        """The gallery of templates for ``model_id``; body None when ``etag`` is still current (304)."""
        headers = {"If-None-Match": etag} if etag else {}
        response = self._send("GET", "/api/v1/gallery", params={"model": model_id}, headers=headers)
        if response.status_code == 304:
            return GalleryResponse(None, etag)
        return GalleryResponse(self._json(response), response.headers.get("ETag"))

    def get_gallery_key(self) -> bytes:
        """The 256-bit key this camera seals its gallery copy with (keep it in memory only)."""
        body = self._request("GET", "/api/v1/gallery/key")
        try:
            key = base64.b64decode(body["key"], validate=True)
        except (KeyError, TypeError, ValueError, binascii.Error) as err:
            raise DeliveryError("the dashboard's gallery key is malformed", retry=True) from err
        if len(key) != 32:
            raise DeliveryError("the dashboard's gallery key is not 256 bits", retry=True)
        return key

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._json(self._send(method, path, **kwargs))

    def _send(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        try:
            response = self._session.request(method, self.server_url + path, headers={**self._headers, **(headers or {})},
                                             timeout=self.timeout_s, **kwargs)
        except requests.RequestException as err:
            raise DeliveryError(f"cannot reach the dashboard: {type(err).__name__}", retry=True) from err
        if response.status_code < 400 or response.status_code == 304:
            return response
        code, message = _error_of(response)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        status = response.status_code
        if status == TOO_LARGE_STATUS:
            raise DeliveryError(f"the request is over the dashboard's size limit: HTTP {status} {code}", retry=False,
                                status=status, code=code)
        raise DeliveryError(_describe_refusal(status, code, message), retry=True, status=status, code=code,
                            retry_after_s=retry_after)

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as err:
            raise DeliveryError(f"the dashboard's answer is not JSON (HTTP {response.status_code})", retry=True,
                                status=response.status_code) from err


def _describe_refusal(status: int, code: str, message: str) -> str:
    """One line for the log and the heartbeat's ``last_error``: what the status most likely means."""
    if status in RETRY_STATUSES:
        return f"dashboard busy or failing: HTTP {status} {code}"
    if status in AUTH_STATUSES:
        # Not the events' fault: the token may be fixed or the camera re-enabled, so the events wait.
        return f"the dashboard refused this camera's token: HTTP {status} {code}"
    hint = " (check server_url and any reverse proxy in front of the dashboard)" if status in ROUTING_STATUSES else ""
    detail = f": {message}" if message else ""
    return f"the dashboard refused the request: HTTP {status} {code}".rstrip() + detail + hint


def _error_of(response: requests.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error") or {}
        return str(error.get("code", "")), str(error.get("message", ""))[:300]
    except (ValueError, AttributeError):
        return "", ""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
