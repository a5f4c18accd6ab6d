"""``python -m demo [--data DIR] [--models DIR] [--port 8000]``: a whole school morning on this machine.

It runs the product's own commands, in the order a school would: create the school and an admin (with a
fresh random password), install the recommended models when their files are at hand (``--models``, by
default ``../shared/models``: YuNet and Intel's face-reidentification-retail-0095, installed offline from
those copies and checked against the manifest), enroll the sample people into class 10A1, register a gate
camera, start the dashboard, run the camera agent over the sample clip, and leave the dashboard running
with the morning's roll on it. Without the model files it runs dlib's HOG and ResNet, which come with the
packages. Everything lives in ``demo-instance/`` (made anew each run); Ctrl-C stops the dashboard.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

from demo.sample_data import (
    CLIP, CLIP_PEOPLE, SampleDataError, check_data_folder, default_cache_dir, download_samples,
)

ROOT = Path(__file__).resolve().parents[1]
SCHOOL_CODE = "demo"
SCHOOL_NAME = "Trường THPT Demo"
CLASS_CODE = "10A1"
TIMEZONE = "Asia/Ho_Chi_Minh"
# The clip is played as if its first frame were filmed at this time this morning, so the check-in is on time.
CLIP_STARTS_AT = dt.time(6, 50)
DEFAULT_MODELS_DIR = ROOT.parent / "shared" / "models"
# The recommended configuration: (model id, file under --models). Both are licence-clean (no --accept-terms).
RECOMMENDED_MODELS = (("yunet_2023mar", "face_detection_yunet.onnx"),
                      ("intel_reid_0095", "intel/face-reidentification-retail-0095.xml"))


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def run_command(args: list[str], env: dict[str, str], what: str) -> str:
    """Run one of the product's commands; stop the demo with its message if it fails."""
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"[demo] {what} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


# The roll's status codes in words, for the printed roll (the dashboard shows the same words in Vietnamese).
STATUS_WORDS = {"on_time": "on time", "late": "late", "absent": "absent", "not_yet": "not yet in",
                "excused": "excused", "present_manual": "present (marked by hand)", "no_school": "no school today"}
PORT_TRIES = 20


def person_name(folder: str) -> str:
    """A sample person's folder name as the roster's full name: lin_manuel_miranda -> Lin Manuel Miranda."""
    return " ".join(part.capitalize() for part in folder.replace("-", "_").split("_"))


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(wanted: int) -> int:
    """``wanted`` if free, else the next free one of the following ``PORT_TRIES``; SystemExit with a clear
    message when none is (another demo still running?)."""
    for port in range(wanted, wanted + PORT_TRIES):
        if 0 < port < 65536 and port_is_free(port):
            if port != wanted:
                say(f"port {wanted} is in use (another dashboard or demo still running?): using {port} instead")
            return port
    raise SystemExit(f"[demo] ports {wanted}-{wanted + PORT_TRIES - 1} are all in use: stop the program using "
                     f"them, or choose another with --port PORT")


def describe_roll(rows: list[dict]) -> list[str]:
    """The roll as lines in words: "HS004  Lin Manuel Miranda  on time, seen at 06:50 by gate-1"."""
    lines = []
    width = max((len(r["full_name"]) for r in rows), default=0)
    for r in rows:
        words = STATUS_WORDS.get(r["status"], r["status"])
        if r["status"] == "late" and r.get("minutes_late"):
            words = f"late by {r['minutes_late']} min"
        seen = ""
        if r.get("first_seen_at"):
            at = dt.datetime.fromisoformat(r["first_seen_at"]).astimezone(ZoneInfo(TIMEZONE))
            seen = f", seen at {at:%H:%M}" + (f" by camera {r['camera']}" if r.get("camera") else "")
        lines.append(f"  {r['student_code']}  {r['full_name']:<{width}}  {words}{seen}")
    return lines


def build_roster(people: Path, roster: Path) -> int:
    """Lay the sample people out as the enrollment expects: 10A1/HS001 Full Name/photo.jpg."""
    count = 0
    for number, person in enumerate(sorted(p for p in people.iterdir() if p.is_dir()), start=1):
        name = person_name(person.name)
        target = roster / CLASS_CODE / f"HS{number:03d} {name}"
        target.mkdir(parents=True)
        for photo in sorted(person.iterdir()):
            if photo.is_file():
                shutil.copy(photo, target / photo.name)
        count += 1
    return count


def open_every_day_of_the_week(env: dict[str, str]) -> None:
    """The demo school takes the roll every day, so the demo shows a roll on a weekend too."""
    from attendance.db import Database
    from attendance.directory import find_school

    database = Database.open(env["ATTENDANCE_DATABASE_URL"])
    with database.session() as session:
        school = find_school(session, SCHOOL_CODE)
        school.school_days = "1,2,3,4,5,6,7"
        school.timezone = TIMEZONE
    database.close()


def choose_clip_start(now_local: dt.datetime) -> dt.datetime:
    """06:50 this morning, or a few minutes ago when it is not 06:50 yet (a check-in is never in the future)."""
    morning = now_local.replace(hour=CLIP_STARTS_AT.hour, minute=CLIP_STARTS_AT.minute, second=0, microsecond=0)
    if now_local >= morning:
        return morning
    midnight = now_local.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(midnight, (now_local - dt.timedelta(minutes=5)).replace(microsecond=0))


def wait_for_dashboard(url: str, server: subprocess.Popen, log_path: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path.is_file() else ""
            raise SystemExit(f"[demo] the dashboard stopped during start-up:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/openapi.json", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise SystemExit(f"[demo] the dashboard did not answer at {url} within {timeout_s:.0f} s")


def install_recommended_models(models_dir: Path | None, attendance: list[str], env: dict[str, str]) -> list[str]:
    """Install YuNet and Intel's embedder from local copies (offline); the ids installed, [] without the files."""
    if models_dir is None or not all((models_dir / name).is_file() for _, name in RECOMMENDED_MODELS):
        return []
    for model_id, name in RECOMMENDED_MODELS:
        run_command(attendance + ["models", "download", model_id, "--path", str(models_dir / name)], env,
                    f"installing {model_id}")
    return [model_id for model_id, _ in RECOMMENDED_MODELS]


def find_data(args: argparse.Namespace) -> Path:
    if args.data:
        return check_data_folder(Path(args.data).resolve())
    cache = default_cache_dir()
    say(f"no --data given: fetching the face_recognition project's sample photos and clip into {cache}")
    return check_data_folder(download_samples(cache, say=say))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder with people/<name>/*.jpg and video/short_hamilton_clip.mp4")
    parser.add_argument("--models", default=str(DEFAULT_MODELS_DIR) if DEFAULT_MODELS_DIR.is_dir() else None,
                        help="folder with face_detection_yunet.onnx and intel/face-reidentification-retail-0095.xml "
                        "(+ .bin): installs the recommended models from it (default: ../shared/models when present)")
    parser.add_argument("--no-models", action="store_true", help="use dlib's models only, even with --models at hand")
    parser.add_argument("--port", type=int, default=8000, help="dashboard port (default 8000)")
    parser.add_argument("--instance", default=str(ROOT / "demo-instance"), help="demo folder (made anew)")
    parser.add_argument("--no-serve", action="store_true", help="stop the dashboard at the end (for tests)")
    args = parser.parse_args(argv)
    try:
        data = find_data(args)
    except SampleDataError as err:
        print(f"[demo] {err}", file=sys.stderr)
        return 1
    port = choose_port(args.port)  # before the minute of enrollment: a clash is reported at once

    instance = Path(args.instance).resolve()
    if instance.exists():
        shutil.rmtree(instance)
    instance.mkdir(parents=True)
    env = dict(os.environ)
    env.update({
        "ATTENDANCE_INSTANCE_PATH": str(instance),
        "ATTENDANCE_DATABASE_URL": f"sqlite:///{instance / 'attendance.db'}",
        "ATTENDANCE_SESSION_COOKIE_SECURE": "false",  # plain HTTP on this machine only
        "ATTENDANCE_TIMEZONE": TIMEZONE,
        "ATTENDANCE_LOG_LEVEL": "WARNING",
        # Six people enrolled: bench/operating_point.py's rule allows dlib 0.48 for six (its shipped 0.388 is
        # placed for 135). Applies to dlib's ResNet only; another installed model keeps its own point.
        "ATTENDANCE_MATCH_THRESHOLD": "0.45",
        "ATTENDANCE_MATCH_MARGIN": "0.06",
    })
    attendance = [sys.executable, "-m", "attendance.cli.main"]

    password = secrets.token_urlsafe(12)
    password_file = instance / "admin-password.txt"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    run_command(attendance + ["users", "create-admin", "--username", "admin", "--password-file", str(password_file),
                              "--school", SCHOOL_CODE, "--school-name", SCHOOL_NAME, "--full-name", "Quản trị viên"],
                env, "creating the admin")
    open_every_day_of_the_week(env)
    say(f"school '{SCHOOL_NAME}' and admin login created")
    installed = [] if args.no_models else install_recommended_models(
        Path(args.models).resolve() if args.models else None, attendance, env)
    if installed:
        say(f"recommended models installed offline from {args.models}: {', '.join(installed)} (licence-clean)")
    else:
        say("recognition: dlib HOG + dlib ResNet (the packages' models; see `attendance models list` for better ones)")
    print(run_command(attendance + ["models", "list"], env, "listing the models").rstrip())

    people = build_roster(data / "people", instance / "roster")
    say(f"enrolling {people} sample people into class {CLASS_CODE} (a minute on a laptop)...")
    print(run_command([sys.executable, str(ROOT / "enroll_faces.py"), str(instance / "roster"), "--quiet",
                       "--school", SCHOOL_CODE], env, "enrollment").rstrip())
    shutil.rmtree(instance / "roster")

    token = run_command(attendance + ["cameras", "add", "gate-1", "--location", "Cổng chính", "--school", SCHOOL_CODE],
                        env, "registering the camera").strip().splitlines()[-1].split()[-1]

    url = f"http://127.0.0.1:{port}"
    server_log_path = instance / "dashboard.log"
    with server_log_path.open("w") as server_log:  # its own start-up lines (and URL) stay out of the demo's output
        server = subprocess.Popen(attendance + ["serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                  stdout=server_log, stderr=subprocess.STDOUT)
    try:
        wait_for_dashboard(url, server, server_log_path)
        say(f"dashboard started (its messages go to {server_log_path})")
        start_at = choose_clip_start(dt.datetime.now(ZoneInfo(TIMEZONE)))
        say(f"running the camera agent over {CLIP} as if filmed at {start_at:%H:%M} today...")
        agent_env = dict(env, ATTENDANCE_AGENT_TOKEN=token, ATTENDANCE_AGENT_MATCH_THRESHOLD="0.45",
                         ATTENDANCE_AGENT_MATCH_MARGIN="0.06")
        run_command([sys.executable, "-m", "camera_agent", "--source", str(data / CLIP), "--server", url,
                     "--once", "--start-at", start_at.isoformat(), "--outbox", str(instance / "agent" / "outbox.sqlite3"),
                     "--log-level", "WARNING"], agent_env, "the camera agent")
        rows = [json.loads(line) for line in run_command(
            attendance + ["roll", "--school", SCHOOL_CODE, "--class", CLASS_CODE, "--json"], env, "the roll").splitlines()
            if line.strip()]
        in_clip = [person_name(p) for p in CLIP_PEOPLE if (data / "people" / p).is_dir()]
        print(f"\nThe roll of class {CLASS_CODE} this morning ({len(rows)} students):")
        print("\n".join(describe_roll(rows)))
        if in_clip:
            print(f"The clip shows {', '.join(in_clip)}; the other sample people are enrolled but not in it, so "
                  "they stay 'not yet in' (absent after the absence cutoff).")
        print(f"\n  Dashboard: {url}\n  Login:     admin\n  Password:  {password}\n"
              f"  (also in {password_file})\n")
        if args.no_serve:
            return 0
        say("the dashboard keeps running; press Ctrl-C to stop it")
        server.wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    raise SystemExit(main())
