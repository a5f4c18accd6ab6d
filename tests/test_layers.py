"""The import rule of attendance/LAYERS.md, checked by parsing every module's imports (dynamic ones too)."""

from pathlib import Path

import pytest

from conftest import REPO_ROOT
from import_graph import imported_names

FACE_ENGINE_LIBS = {"cv2", "dlib", "onnxruntime"}
WEB_LIBS = {"flask", "flask_login", "flask_wtf", "flask_babel", "werkzeug", "waitress", "wtforms", "jinja2"}


def imported_roots(path: Path) -> set[str]:
    """The top-level names ``path`` imports: statements anywhere (lazy ones too), ``importlib.import_module``
    and ``__import__`` with constant names (see ``import_graph.imported_names``)."""
    module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return {name.split(".")[0] for name in imported_names(path, module) if name}


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


@pytest.mark.parametrize("path", modules("models"), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_models_is_the_bottom_layer_and_converts_with_onnx_only(path):
    """``models/`` reads and converts model files: it imports no other package of the project (the core
    calls it, never the reverse) and no runtime or web library; ``onnx`` (the converter's) is allowed."""
    bad = imported_roots(path) & ({"attendance", "camera_agent", "dashboard"} | FACE_ENGINE_LIBS | WEB_LIBS)
    assert not bad, f"{path.relative_to(REPO_ROOT)} imports {sorted(bad)}"


def test_dynamic_imports_are_seen(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("import importlib\n"
                      "def load():\n"
                      "    importlib.import_module('flask')\n"
                      "    return __import__('cv2')\n")
    assert {"flask", "cv2", "importlib"} <= {name.split(".")[0] for name in imported_names(sneaky, "sneaky")}
