"""``camera-agent``: the command line, settings, start-up and exit status of one gate agent.

Exit status: 0 done (with ``--once``: everything delivered), 1 something could not be delivered,
2 a bad setting or a source, model or gallery that cannot be used, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from attendance.errors import AttendanceError, SettingsError
from attendance.logsafe import install_safe_log_records
from attendance.settings import load_settings
from camera_agent import __version__
from camera_agent.agent import Agent
from camera_agent.client import DashboardClient
from camera_agent.engine import build_engine, build_liveness, operating_point
from camera_agent.outbox import Outbox
from camera_agent.settings import AGENT_ENV_PREFIX, AGENT_TOML_TABLE, AgentSettings
from camera_agent.sources import open_source
from camera_agent.status import AgentStatus

logger = logging.getLogger("camera_agent")

# flag -> setting; each flag overrides the TOML file and the environment.
FLAGS: dict[str, tuple[str, type, str]] = {
    "--source": ("source", str, "camera index, RTSP/HTTP URL, video file or image folder"),
    "--server": ("server_url", str, "dashboard base URL"),
    "--token": ("token", str, "camera token (prefer ATTENDANCE_AGENT_TOKEN: flags show in `ps`)"),
    "--backend": ("face_backend", str, "face embedder backend: dlib or onnx"),
    "--camera-name": ("camera_name", str, "name of this camera in logs"),
    "--threshold": ("match_threshold", float, "largest matching distance (0: model default)"),
    "--margin": ("match_margin", float, "smallest margin to the next student (<0: model default)"),
    "--min-votes": ("min_votes", int, "matching embeddings needed to name a track"),
    "--scale": ("scale", float, "processing scale of frames before detection"),
    "--fps": ("fps", float, "process at most this many frames per second (0: all)"),
    "--outbox": ("outbox", str, "path of the SQLite outbox"),
    "--preview-port": ("preview_port", int, "serve a preview on 127.0.0.1:PORT"),
    "--debug-dir": ("debug_dir", str, "save the frames of decisions here (setup only)"),
    "--start-at": ("start_at", str, "time of a file's first frame, ISO 8601 with zone"),
    "--deliver-timeout-s": ("deliver_timeout_s", float, "with --once: how long to retry delivery"),
    "--timezone": ("timezone", str, "time zone of the school day"),
    "--log-level": ("log_level", str, "DEBUG, INFO, WARNING or ERROR"),
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="camera-agent", description=__doc__.splitlines()[0].strip("`: "))
    parser.add_argument("--config", help="TOML settings file (its [agent] table)")
    for flag, (name, kind, help_text) in FLAGS.items():
        parser.add_argument(flag, dest=name, type=kind, help=help_text)
    parser.add_argument("--snapshots", dest="snapshots", action=argparse.BooleanOptionalAction,
                        help="send a small face crop with each event")
    parser.add_argument("--once", action="store_true", help="process a file or folder, deliver everything, exit")
    parser.add_argument("--version", action="version", version=f"camera-agent {__version__}")
    return parser.parse_args(argv)


def read_settings(args: argparse.Namespace) -> AgentSettings:
    overrides: dict[str, Any] = {name: getattr(args, name) for name, _, _ in FLAGS.values()
                                 if getattr(args, name) is not None}
    if args.snapshots is not None:
        overrides["snapshots"] = args.snapshots
    settings = load_settings(AgentSettings, prefix=AGENT_ENV_PREFIX, config_file=args.config,
                             overrides=overrides, toml_table=AGENT_TOML_TABLE)
    if not settings.token:
        raise SettingsError("token", "is empty: set ATTENDANCE_AGENT_TOKEN (or token in [agent], or --token)")
    return settings


def run(settings: AgentSettings, *, once: bool) -> int:
    """Start the agent for ``settings``; returns the exit status."""
    status = AgentStatus()
    source = open_source(settings.source, start_at=settings.start_at, fps_cap=settings.fps,
                         folder_interval_s=settings.folder_interval_s, read_timeout_s=settings.read_timeout_s,
                         open_timeout_s=settings.open_timeout_s, reconnect_max_s=settings.reconnect_max_s,
                         status=status)
    if once and source.live:
        source.close()
        raise SettingsError("source", "--once needs a video file or a folder of images, not a live camera")
    try:
        engine = build_engine(settings)
        point = operating_point(settings, engine.embedder.model_id)
        liveness = build_liveness(settings)
    except BaseException:
        source.close()
        raise
    outbox = Outbox(settings.outbox_path)
    client = DashboardClient(settings.server_url, settings.token, timeout_s=settings.request_timeout_s,
                             user_agent=f"camera-agent/{__version__}")
    agent = Agent(settings, engine, source, outbox, client, point, status, liveness)
    _stop_on_signals(agent)
    dead_before = outbox.stats().dead
    try:
        if not agent.load_gallery(wait_s=settings.deliver_timeout_s if once else 0.0):
            if once:
                raise AttendanceError("no gallery: the dashboard cannot be reached and there is no copy on disk")
            logger.warning("no gallery yet: faces are tracked but not recognised until the dashboard answers")
        agent.start_background()
        logger.info("camera %s: watching %s with %s (threshold %.3f, margin %.3f)", settings.camera_name,
                    "a live camera" if source.live else settings.source, engine.embedder.model_id,
                    point.threshold, point.margin)
        agent.run_frames()
        if agent.stop.is_set():
            return 130
        if once:
            return _finish_once(agent, settings, dead_before)
        return 0
    finally:
        agent.close()


def _finish_once(agent: Agent, settings: AgentSettings, dead_before: int) -> int:
    left = agent.wait_for_delivery(settings.deliver_timeout_s)
    refused = agent.outbox.stats().dead - dead_before
    logger.info("done: %d frames, %d check-ins, %d unknowns stored; %d undelivered, %d refused",
                agent.status.frames_total, agent.stored["checkin"], agent.stored["unknown"], left, refused)
    if left or refused:
        last = agent.status.last_error or "no error reported"
        print(f"camera-agent: {left} event(s) not delivered and {refused} refused by the dashboard "
              f"(last error: {last}); they stay in {settings.outbox}", file=sys.stderr)
        return 1
    return 0


def _stop_on_signals(agent: Agent) -> None:
    def stop(signum, frame) -> None:
        logger.info("stopping (signal %d)", signum)
        agent.stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(signum, stop)
        except ValueError:  # not the main thread (tests): the caller stops the agent itself
            pass


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = read_settings(args)
        install_safe_log_records()
        logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return run(settings, once=args.once)
    except AttendanceError as err:
        print(f"camera-agent: error: {err.message}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. the outbox folder cannot be created
        print(f"camera-agent: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
