"""Files named relative to the instance folder are found inside it, never outside (one check, attendance.instance)."""

import pytest

from attendance.erasure import remove_instance_file
from attendance.instance import find_instance_file


@pytest.fixture
def instance(tmp_path):
    root = tmp_path / "instance"
    (root / "snapshots" / "1").mkdir(parents=True)
    (root / "snapshots" / "1" / "a.jpg").write_bytes(b"jpeg")
    (tmp_path / "secret.txt").write_text("outside")
    (root / "snapshots" / "out.jpg").symlink_to(tmp_path / "secret.txt")
    return root


def test_a_file_inside_is_found_resolved(instance):
    assert find_instance_file(instance, "snapshots/1/a.jpg") == (instance / "snapshots/1/a.jpg").resolve()
    assert find_instance_file(str(instance / "snapshots" / ".." / "snapshots"), "1/a.jpg") is not None


@pytest.mark.parametrize("relative", [None, "", "../secret.txt", "snapshots/out.jpg", "snapshots/1", "missing.jpg",
                                      "/etc/passwd"])
def test_nothing_outside_empty_missing_or_not_a_file_is_found(instance, relative):
    assert find_instance_file(instance, relative) is None


def test_removing_goes_through_the_same_check(instance, tmp_path):
    assert remove_instance_file(instance.resolve(), "../secret.txt") == 0
    assert remove_instance_file(instance.resolve(), "snapshots/out.jpg") == 0
    assert (tmp_path / "secret.txt").exists()
    assert remove_instance_file(instance.resolve(), "snapshots/1/a.jpg") == 1
    assert not (instance / "snapshots/1/a.jpg").exists()
