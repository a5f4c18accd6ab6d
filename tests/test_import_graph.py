"""The project's own modules import each other without a loop (see ``import_graph`` for what counts).

A loop means neither module can be read, tested or moved without the other, and at import time one of
them runs half-initialised. Cut it by moving the shared code to the module both should depend on, not by
hiding an import inside a function: lazy imports are edges here too.
"""

from conftest import REPO_ROOT
from import_graph import build_graph, find_cycle, imported_names


def test_the_package_import_graph_is_acyclic():
    graph = build_graph(REPO_ROOT)
    assert len(graph) > 100, "the graph misses the project's modules"
    cycle = find_cycle(graph)
    assert cycle is None, "import loop: " + " -> ".join(cycle or [])


def test_the_top_level_packages_import_each_other_without_a_loop():
    """attendance -> models, and the edges camera_agent and dashboard -> attendance: never back."""
    packages: dict[str, set[str]] = {}
    for module, targets in build_graph(REPO_ROOT).items():
        top = module.split(".")[0]
        packages.setdefault(top, set()).update(t.split(".")[0] for t in targets if t.split(".")[0] != top)
    cycle = find_cycle(packages)
    assert cycle is None, "package loop: " + " -> ".join(cycle or [])
    assert packages["models"] == set()


def test_find_cycle_reports_a_loop_and_accepts_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_every_form_of_import_is_an_edge(tmp_path):
    package = tmp_path / "dashboard"
    (package / "web").mkdir(parents=True)
    (package / "__init__.py").write_text("from dashboard.app import create_app\n")
    (package / "app.py").write_text("def create_app():\n    from .web import pages\n")
    (package / "web" / "__init__.py").write_text("")
    (package / "web" / "pages.py").write_text(
        "import importlib\n"
        "NAMES = ('dashboard.db',)\n"
        "def load():\n"
        "    importlib.import_module('dashboard.app')\n"
        "    __import__('dashboard.forms')\n"
        "    for name in NAMES:\n"
        "        __import__(name)\n"
        "    from .. import create_app\n")
    (package / "db.py").write_text("")
    (package / "forms.py").write_text("")
    for other in ("attendance", "camera_agent", "models"):
        (tmp_path / other).mkdir()
    (tmp_path / "enroll_faces.py").write_text("")
    graph = build_graph(tmp_path)
    assert graph["dashboard.web.pages"] == {"dashboard", "dashboard.app", "dashboard.db", "dashboard.forms"}
    assert graph["dashboard.app"] == {"dashboard.web.pages"}  # a lazy import is an edge
    assert graph["dashboard"] == {"dashboard.app"}
    assert graph["dashboard.web"] == set()
    assert find_cycle(graph) == ["dashboard", "dashboard.app", "dashboard.web.pages", "dashboard"]
    assert set(imported_names(package / "web" / "pages.py", "dashboard.web.pages")) >= {"dashboard.app"}
