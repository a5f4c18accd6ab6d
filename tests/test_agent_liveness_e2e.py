"""The agent with the MiniFASNet pair installed, on short_hamilton_clip.mp4 (``--once``, fake dashboard).

Lin-Manuel Miranda's check-in (a filmed, live person) must carry the verdict ``live`` with the scores of the
frames the track was decided from; the liveness models add no other decision.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest
from agent_fakes import FakeDashboard
from conftest import REPO_ROOT, SHARED_MODELS, require_shared
from test_agent_e2e import EXPECTED, RUN_TIMEOUT_S, agent_command, agent_env, clip, people_gallery  # noqa: F401 (fixtures)

from attendance import models_manager

pytestmark = pytest.mark.realfaces


@dataclass(frozen=True)
class _Settings:
    instance_path: str


def test_agent_sends_a_live_verdict_with_the_scores_of_the_decided_frames(people_gallery, tmp_path):
    instance = tmp_path / "instance"
    for entry in (e for e in models_manager.manifest_entries().values() if e.task == "liveness"):
        source = require_shared(SHARED_MODELS / "minifasnet" / entry.source_file)
        models_manager.install_model(_Settings(str(instance)), entry.id, source)
    fake = FakeDashboard(people_gallery).start()
    try:
        env = dict(agent_env(), ATTENDANCE_AGENT_INSTANCE_PATH=str(instance))
        result = subprocess.run(agent_command(fake.url, tmp_path / "outbox.sqlite3"), env=env, cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    finally:
        fake.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert fake.checkin_codes() == EXPECTED
    liveness = next(iter(fake.checkins.values()))["liveness"]
    assert liveness["verdict"] == "live", liveness
    assert liveness["spoof_frames"] >= 2 and liveness["spoof_score_mean"] >= liveness["spoof_threshold"]
    assert liveness["frames"] > 10  # the motion cues are still sent
