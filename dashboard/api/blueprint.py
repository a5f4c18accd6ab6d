"""The API's blueprint, ``api_bp``, on which every view module of ``dashboard.api`` registers its routes.

It lives apart from the package's ``__init__`` (which imports the view modules) so a view module never
imports the package that imports it.
"""

from flask import Blueprint

api_bp = Blueprint("api", __name__)
