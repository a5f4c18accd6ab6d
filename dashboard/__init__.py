"""The dashboard: a Flask app for teachers and admins, and the JSON API the camera agents report to."""

from dashboard.app import create_app

__all__ = ["create_app"]
