"""Benchmarks that tell the truth: a worker's own peak memory, and caches keyed by what made the vectors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.lfw_cache import SplitRow, cache_key

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_a_spawned_worker_reports_its_own_peak_memory_not_its_parents():
    parent = (
        "import subprocess, sys, numpy as np\n"
        "held = np.ones(300 * 1024 * 1024 // 8)\n"
        "child = 'from bench.bench_onnx import read_peak_rss_mib; print(read_peak_rss_mib())'\n"
        "print(subprocess.run([sys.executable, '-c', child], capture_output=True, text=True, check=True).stdout)\n"
    )
    result = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, check=True,
                            cwd=REPO_ROOT, env={"PYTHONPATH": str(REPO_ROOT), "PATH": ""})
    assert float(result.stdout) < 150  # the parent holds 300 MiB; the child alone is far below


def test_the_cache_key_follows_the_model_files_bytes_settings_and_face_choice(tmp_path):
    rows = [SplitRow("a/a_0001.jpg", "a", "enroll"), SplitRow("b/b_0001.jpg", "b", "probe_unknown")]
    model = tmp_path / "model.onnx"
    model.write_bytes(b"weights v1")
    first = cache_key(rows, [model], "flip=True")
    assert cache_key(rows, [model], "flip=True") == first
    assert cache_key(rows, [model], "flip=False") != first
    assert cache_key(rows, [model], "flip=True", pick="largest") != first
    assert cache_key(rows[:1], [model], "flip=True") != first
    model.write_bytes(b"weights v2")  # same name, other bytes
    assert cache_key(rows, [model], "flip=True") != first


def test_writing_a_placed_point_changes_only_that_entrys_three_values():
    from attendance.gallery import OperatingPoint
    from bench.place_points import write_point

    text = ('[models.a]\nthreshold = 0.5\nmargin = 0.05\nthreshold_source = "old"\n\n'
            '[models.a.input]\ncolour = "RGB"\n\n[models.b]\nthreshold = 0.4\nmargin = 0.03\nthreshold_source = "b"\n')
    written = write_point(text, "a", OperatingPoint(0.531, 0.01), 'rule "v1" on half A')
    assert written.replace("0.531", "0.5", 1).replace("0.01", "0.05", 1).replace(
        'rule \\"v1\\" on half A', "old") == text
    import tomllib

    parsed = tomllib.loads(written)["models"]
    assert parsed["a"]["threshold"] == 0.531 and parsed["a"]["threshold_source"] == 'rule "v1" on half A'
    assert parsed["b"] == {"threshold": 0.4, "margin": 0.03, "threshold_source": "b"}


def test_writing_a_point_adds_the_lines_an_entry_lacks():
    import tomllib

    from attendance.gallery import OperatingPoint
    from bench.place_points import write_point

    text = '[models.new]\nname = "new"\n\n[models.new.input]\ncolour = "BGR"\n'
    parsed = tomllib.loads(write_point(text, "new", OperatingPoint(0.6, 0.02), "rule"))["models"]["new"]
    assert (parsed["threshold"], parsed["margin"], parsed["threshold_source"]) == (0.6, 0.02, "rule")
    assert parsed["input"] == {"colour": "BGR"}
