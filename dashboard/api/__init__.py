"""The JSON API for camera agents and integrations, under /api/v1."""

from flask import Blueprint

api_bp = Blueprint("api", __name__)
