"""The camera agent: watches one gate camera, recognises students and delivers check-ins to the dashboard."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("school-attendance")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
