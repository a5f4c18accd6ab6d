"""A gate PC installs the core and the agent only: the agent's imports and the base dependencies leave out the
server (Flask, psycopg, openpyxl) and the model converter (onnx); `[dev]` still brings everything the tests need."""

import json
import re
import subprocess
import sys
import tomllib

import pytest

from conftest import REPO_ROOT

SERVER_ONLY = {"flask", "flask_login", "flask_wtf", "flask_babel", "waitress", "psycopg", "openpyxl", "onnx",
               "dashboard"}

IMPORT_EVERY_AGENT_MODULE = """
import importlib, json, pkgutil, sys
import camera_agent
for info in pkgutil.walk_packages(camera_agent.__path__, "camera_agent."):
    importlib.import_module(info.name)
from camera_agent.__main__ import parse_args
parse_args(["--source", "0"])
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\[<>=~!; ]", requirement, maxsplit=1)[0].lower()


def _project() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_agent_imports_neither_the_server_nor_the_converter():
    run = subprocess.run([sys.executable, "-c", IMPORT_EVERY_AGENT_MODULE], capture_output=True, text=True,
                         cwd=REPO_ROOT, timeout=120, check=True)
    loaded = set(json.loads(run.stdout.strip().splitlines()[-1]))
    assert "camera_agent" in loaded and "cv2" in loaded  # the walk did import the agent and its face engine
    assert not loaded & SERVER_ONLY, sorted(loaded & SERVER_ONLY)


def test_the_base_install_is_a_gate_pc_and_server_adds_the_dashboard():
    project = _project()
    base = {_requirement_name(r) for r in project["dependencies"]}
    extras = project["optional-dependencies"]
    assert not base & {"flask", "flask-login", "flask-wtf", "flask-babel", "waitress", "psycopg", "openpyxl", "onnx"}
    assert {"tzdata", "onnxruntime", "opencv-python-headless", "requests"} <= base
    assert extras["agent"] == []  # the base install is the gate PC's
    assert {"flask", "psycopg", "openpyxl", "waitress"} <= {_requirement_name(r) for r in extras["server"]}
    assert {_requirement_name(r) for r in extras["convert"]} == {"onnx"}


def test_dev_and_all_install_the_server_and_the_converter():
    extras = _project()["optional-dependencies"]
    for name in ("dev", "all"):
        assert "school-attendance[server,convert]" in extras[name], name
    assert {"pytest", "hypothesis"} <= {_requirement_name(r) for r in extras["dev"]}


def test_a_converter_without_onnx_says_which_extra_installs_it(monkeypatch):
    import importlib.util

    from attendance import models_manager
    from attendance.errors import ModelError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    with pytest.raises(ModelError, match=r"school-attendance\[convert\]"):
        models_manager.require_converter()
    monkeypatch.undo()
    models_manager.require_converter()  # the dev install has it
