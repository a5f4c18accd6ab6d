"""Exponential backoff, written once for webhooks, the agent's uploads and camera reconnects."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attendance.backoff import Backoff, backoff_delay_s
from attendance.webhooks import retry_delay_s
from camera_agent.sender import Backoff as UploadBackoff


def test_the_delay_doubles_from_the_base_up_to_the_cap():
    assert [backoff_delay_s(n, 30.0, 300.0) for n in range(1, 7)] == [30.0, 60.0, 120.0, 240.0, 300.0, 300.0]
    assert backoff_delay_s(0, 30.0, 300.0) == backoff_delay_s(-5, 30.0, 300.0) == 30.0


def test_jitter_scales_the_step_down_by_at_most_its_share():
    assert backoff_delay_s(3, 1.0, 60.0, jitter=0.5, rng=lambda: 1.0) == 4.0
    assert backoff_delay_s(3, 1.0, 60.0, jitter=0.5, rng=lambda: 0.0) == 2.0
    assert backoff_delay_s(9, 1.0, 60.0, jitter=0.25, rng=lambda: 0.0) == 45.0


@given(st.integers(min_value=-10, max_value=10_000), st.floats(0.0, 1.0))
def test_a_delay_is_finite_and_within_its_bounds_after_any_number_of_failures(failures, draw):
    delay = backoff_delay_s(failures, 0.5, 120.0, jitter=0.5, rng=lambda: draw)
    assert 0.25 <= delay <= 120.0


def test_the_loop_counts_failures_and_starts_over_after_a_success():
    backoff = Backoff(base_s=1.0, max_s=30.0)
    assert [backoff.next_delay_s() for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    backoff.reset()
    assert backoff.failures == 0 and backoff.next_delay_s() == 1.0


def test_webhooks_and_uploads_use_it():
    assert [retry_delay_s(n) for n in (1, 2, 3)] == [30.0, 60.0, 120.0]
    assert retry_delay_s(40) == 6 * 3600.0
    upload = UploadBackoff(base_s=1.0, max_s=8.0, rng=lambda: 0.0)
    assert isinstance(upload, Backoff)
    assert [upload.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert upload.next_delay(retry_after_s=7.0) == 7.0 and upload.failures == 6
    assert upload.next_delay(retry_after_s=10_000.0) == pytest.approx(600.0)
