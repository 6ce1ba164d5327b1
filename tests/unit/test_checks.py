"""The exercises' verdicts on made-up answers: the wrong ones named, the right one passed (no cluster)."""

from __future__ import annotations

import re

import pytest

from labapp.checks import CheckFailed, _batch_problem, check_ex04, judge_ex03_answer


@pytest.mark.parametrize(
    "throughput, answer, cores, expected",
    [
        ({1: 10, 2: 19, 4: 19.5}, 4, 2, "stop growing at 2 workers .*found plateau_workers = 4"),
        ({1: 10, 2: 19, 4: 19.5}, ..., 2, "found nothing yet"),
        ({1: 10, 2: 19, 4: 19.5}, 19.5, 2, "not one of the worker counts"),
        ({1: 10, 2: 39, 4: 40}, 40, 2, "not one of the worker counts"),  # a noisy table hides no wrong kind
        ({1: 10, 2: 19}, 2, 2, "at 1, 2 and 4 workers"),
        ({1: 10, 2: 20, 4: 39}, 2, 4, "expected plateau_workers = 4"),
        ({1: 10, 2: 27, 4: 28}, 2, 2, "2 workers gave 2.7× one worker, which is impossible"),
        ({1: 205, 2: 392, 4: 554}, 4, 2, "impossible for CPU-bound work on 2 cores"),  # issue 24's ready() table
        ({1: 10, 2: 19, 4: 30}, 4, 2, "impossible for CPU-bound work on 2 cores.*too busy to judge"),
        ({1: 10, 2: 13, 4: 20}, 4, 2, "kept scaling past the 2 cores.*too busy to judge"),  # a loaded machine
    ],
)
def test_ex03_names_a_wrong_plateau_or_an_impossible_table(throughput, answer, cores, expected):
    with pytest.raises(CheckFailed, match=expected):
        judge_ex03_answer(throughput, answer, cores=cores)


def test_ex03_passes_a_consistent_answer(capsys):
    judge_ex03_answer({1: 10, 2: 19, 4: 19.5}, 2, cores=2)
    assert "plateau_workers matches where your measurements stopped growing" in capsys.readouterr().out


def batch(rate, sent, done, unfinished=0, running=2, ran_on=("w1@h", "w2@h"), returned=None):
    """An observed run of measure(2), as check_ex03 records it (times in seconds)."""
    return {
        "rate": rate,
        "sent": sent,
        "done": done,
        "unfinished": unfinished,
        "running": running,
        "ran_on": set(ran_on),
        "returned": max(done) + 0.01 if returned is None else returned,
    }


PARALLEL = dict(sent=[0.0, 0.001, 0.002, 0.003], done=[0.1, 0.1, 0.2, 0.2])  # 4 tasks, 2 at a time: 0.2 s


@pytest.mark.parametrize(
    "seen, expected",
    [
        (batch(19.0, **PARALLEL), None),
        (batch(400.0, **PARALLEL, unfinished=4), "never waited"),
        (batch(19.0, **PARALLEL, running=1), "never scaled the cluster"),
        (batch(9.5, sent=[0.0, 0.1, 0.2, 0.3], done=[0.1, 0.2, 0.3, 0.4]), "one task at a time"),
        (batch(19.0, **PARALLEL, ran_on=["w1@h"]), "all 4 tasks on one worker"),
        (batch(0.21, **PARALLEL), "how many seconds the batch took"),
        (batch(60.0, **PARALLEL), "stopped the clock before the last result"),
        (batch(4.0, **PARALLEL), "included something else, such as cluster.scale"),
        (batch(19.0, sent=[0.0, 0.001], done=[0.1, 0.1]), "send its whole batch"),
        (batch(True, **PARALLEL), "a positive number"),
    ],
)
def test_ex03_judges_the_observed_batch_by_its_physics(seen, expected):
    problem = _batch_problem(seen, 2, batch=4)
    assert (problem is None) if expected is None else re.search(expected, problem), problem


def test_ex04_names_an_off_by_one_split_and_a_blocking_chord():
    def split_short(n, parts):
        return [(1, n)]  # range(1, n) misses n

    with pytest.raises(CheckFailed, match=r"\[10\] missing.*off by one"):
        check_ex04(split_short, None)

    def split_right(n, parts):
        return [(1, n + 1)]

    with pytest.raises(CheckFailed, match="return the chord's AsyncResult"):
        check_ex04(split_right, lambda n, parts: 42)  # waited with .get() and returned the value
