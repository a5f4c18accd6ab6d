"""The JSON API for camera agents and integrations, under /api/v1 (documented in ``openapi.py``).

Agents authenticate with camera tokens and write (check-ins, unknown faces, heartbeats) or read their
school's gallery; integrations authenticate with read-only ``api_`` tokens. Every error is
``{"error": {"code", "message"}}`` (see ``errors.py``), answered by the dashboard's one error handler
(``dashboard.errors``).
"""

from dashboard.api import agent, integration, openapi  # noqa: F401  (the views register on api_bp)
from dashboard.api.blueprint import api_bp

__all__ = ["api_bp"]
