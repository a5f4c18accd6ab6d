"""The import rule of attendance/LAYERS.md, checked by parsing every module's imports."""

import ast
from pathlib import Path

import pytest

from conftest import REPO_ROOT

FACE_ENGINE_LIBS = {"cv2", "dlib", "onnxruntime"}
WEB_LIBS = {"flask", "flask_login", "flask_wtf", "flask_babel", "werkzeug", "waitress", "wtforms", "jinja2"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__" and node.args:
            if isinstance(node.args[0], ast.Constant):
                roots.add(str(node.args[0].value).split(".")[0])
    return roots


def modules(package: str) -> list[Path]:
    return sorted((REPO_ROOT / package).rglob("*.py"))


def test_the_layout_exists():
    for package in ("attendance", "camera_agent", "dashboard", "models"):
        assert modules(package), f"{package}/ has no modules"


@pytest.mark.parametrize("path", modules("attendance"), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_core_imports_no_edge_and_no_web_framework(path):
    bad = imported_roots(path) & ({"dashboard", "camera_agent"} | WEB_LIBS)
    assert not bad, f"{path.relative_to(REPO_ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("camera_agent"), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_agent_never_imports_the_dashboard(path):
    assert "dashboard" not in imported_roots(path)


@pytest.mark.parametrize("path", modules("dashboard"), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_dashboard_never_imports_the_agent(path):
    assert "camera_agent" not in imported_roots(path)


def all_product_modules() -> list[Path]:
    paths = [REPO_ROOT / "enroll_faces.py"]
    for package in ("attendance", "camera_agent", "dashboard", "models"):
        paths += modules(package)
    return paths


@pytest.mark.parametrize("path", all_product_modules(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_only_face_engine_modules_import_cv2_dlib_onnxruntime(path):
    relative = path.relative_to(REPO_ROOT).as_posix()
    if relative.startswith("attendance/faces/"):
        return
    bad = imported_roots(path) & FACE_ENGINE_LIBS
    assert not bad, f"{relative} imports {sorted(bad)}: move that code into attendance/faces/"
