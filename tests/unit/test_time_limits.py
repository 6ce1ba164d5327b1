"""Every task's time limits: derived between longtask_max_x and the visibility timeout, refused out of order,
and FAILUREs that say what happened (issue 23.7). No process: the settings, the config, the exceptions."""

from __future__ import annotations

import pytest
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from labapp.engine.celery_config import celery_config
from labapp.engine.task_cancel import CancelOutcome
from labapp.engine.time_limits import HardTimeLimit, SoftTimeLimit
from labapp.settings import Settings


@pytest.mark.parametrize(
    ("settings", "soft", "hard"),
    [
        ({}, 25.0, 27.5),  # the defaults: longtask_max_x 20 s, visibility 30 s
        ({"visibility_timeout": 8, "longtask_max_x": 5}, 6.5, 7.25),  # lesson 06
        ({"visibility_timeout": 10, "longtask_max_x": 8}, 9.0, 9.5),  # lesson 02
        ({"task_soft_time_limit": 100, "task_time_limit": 110, "visibility_timeout": 120}, 100.0, 110.0),
    ],
)
def test_limits_lie_between_the_longest_lesson_task_and_the_visibility_timeout(settings, soft, hard):
    chosen = Settings(**settings)
    chosen.validate()
    assert (chosen.soft_time_limit, chosen.hard_time_limit) == (soft, hard)
    config = celery_config(chosen, "redis://:x@127.0.0.1:1/0")
    assert (config["task_soft_time_limit"], config["task_time_limit"]) == (soft, hard)
    assert chosen.longtask_max_x < soft <= hard < chosen.visibility_timeout


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"task_time_limit": 40}, "must stay below visibility_timeout"),
        ({"task_soft_time_limit": 10}, "must exceed longtask_max_x"),
        ({"task_soft_time_limit": 26, "task_time_limit": 24}, "must be at least task_soft_time_limit"),
    ],
)
def test_limits_out_of_order_are_refused_saying_which(settings, said):
    with pytest.raises(ValueError, match=said):
        Settings(**settings).validate()


def test_the_time_limit_failures_say_what_happened_and_stay_celerys_exceptions():
    soft, hard = SoftTimeLimit(3.5), HardTimeLimit(4.75)
    assert isinstance(soft, SoftTimeLimitExceeded) and isinstance(hard, TimeLimitExceeded)
    assert "ran past its time limit of 3.5 s" in str(soft)
    assert "hard time limit of 4.75 s" in str(hard)
    assert str(SoftTimeLimit(str(soft))) == str(soft)  # rebuilt from a stored result, as a client does


def test_cancel_says_what_came_of_it():
    done = CancelOutcome("t1", "STARTED", "REVOKED", ("w1@h",))
    assert done.done and "was cancelled" in str(done)
    refused = CancelOutcome("t1", "STARTED", "STARTED", ("w1@h",), ("w1@h",), 25.0)
    assert not refused.done and "refuse revoke" in str(refused) and "25 s" in str(refused)
    assert "already finished (SUCCESS)" in str(CancelOutcome("t1", "SUCCESS", "SUCCESS"))
