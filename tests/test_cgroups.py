"""grading/autograde/cgroups.py: where the sandboxes' groups are made, on both cgroup versions.

The layouts are faked in a folder (cgroupfs files are plain files to write); the groups
themselves, as root on this machine, are tested through real sandboxes in
tests/test_sandbox.py.
"""

from __future__ import annotations

import pytest

from grading.autograde import cgroups


def test_cgroup_v2_enables_pids_and_cpu_for_the_sandboxes(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    assert cgroups.find(tmp_path) == cgroups.Hierarchy(2, (tmp_path,))
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+pids +cpu"


def test_cgroup_v2_without_the_pids_controller_says_so(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    with pytest.raises(cgroups.CgroupError, match="has no pids controller"):
        cgroups.find(tmp_path)


def test_cgroup_v1_needs_both_hierarchies(tmp_path):
    for controller in cgroups.CONTROLLERS:
        (tmp_path / controller).mkdir()
        (tmp_path / controller / "cgroup.procs").write_text("")
    found = cgroups.find(tmp_path)
    assert found == cgroups.Hierarchy(1, tuple(tmp_path / c for c in cgroups.CONTROLLERS))
    (tmp_path / "cpu" / "cgroup.procs").unlink()
    with pytest.raises(cgroups.CgroupError, match=f"no cgroup v1 cpu hierarchy at {tmp_path}"):
        cgroups.find(tmp_path)
