"""The autoscaler on a real cluster: it reaches its target in time, scales down without losing or repeating a task,
keeps its bounds whatever the policy says, survives a policy that raises; and the set-ups' runner.

Times are compared with what this run measured (a worker's start, the gap between the controller's looks),
never with a constant.
"""

from __future__ import annotations

import threading
import time

import pytest

from labapp.elastic import Autoscaler, Recorder, Setup, compare, short_trace
from labapp.elastic.setups import run_on
from tests.support.sandbox import stop_leftovers
from tests.support.waiting import wait_for

COOLDOWN = 1.0
INTERVAL = 0.2


def time_scale_calls(cluster) -> list[dict]:
    """Record when each of the cluster's (real) scale() calls began and ended (time.monotonic())."""
    calls = []
    real = cluster.scale

    def timed(workers, *args, **kwargs):
        call = {"to": workers, "began": time.monotonic()}
        try:
            return real(workers, *args, **kwargs)
        finally:
            call["ended"] = time.monotonic()
            calls.append(call)

    cluster.scale = timed
    return calls


def our_threads() -> list[str]:
    """The elastic machinery's threads still alive in this process."""
    return [t.name for t in threading.enumerate() if t.name in ("labapp-autoscaler", "labapp-recorder")]


def test_autoscaler_reaches_its_target_within_the_cooldown_plus_a_workers_start_time(make_cluster):
    cluster = make_cluster(workers=1).start()
    calls = time_scale_calls(cluster)
    setup = Setup("autoscaler", 1, autoscaler=dict(min_workers=1, max_workers=3, cooldown=COOLDOWN, interval=INTERVAL))
    result = run_on(cluster, setup, short_trace())
    ticks, t0 = result.ticks, result.t0
    scales = [d for d in result.decisions if d.kind == "scale"]
    restore = calls.pop()  # after the replay, run_on gives the cluster back the one worker it had
    assert restore["to"] == 1 and len(cluster.workers) == 1, f"expected 1 worker back, found {restore}"
    assert len(calls) == len(scales), f"expected one scale() per decision, found {calls} for {result.decisions}"
    ups = [i for i, d in enumerate(scales) if d.target > d.workers]
    downs = [i for i, d in enumerate(scales) if d.target < d.workers]
    assert ups and downs, f"expected a scale-up and a scale-down, found {result.decisions}"
    assert max(d.target for d in scales) == 3  # a burst of 24: 6 wanted, 3 at most

    # up: at the first look that wanted more workers, and done once the new workers had started
    up, up_call = scales[ups[0]], calls[ups[0]]
    wanted = next(t for t in ticks if t.target > t.workers)
    assert (up.at, up.target) == (wanted.at, wanted.target)
    start_s = up_call["ended"] - up_call["began"]  # this run's start time of the new workers
    reached = up_call["ended"] - t0
    assert reached - wanted.at <= start_s + INTERVAL, f"took {reached - wanted.at:.2f} s, start time {start_s:.2f} s"
    after = [s for s in result.samples if s.at >= reached]
    assert after and after[0].live >= up.target, f"expected {up.target} live workers, found {after[:1]}"

    # down: never before the cooldown, at the first look after it, done once the idle workers left
    down, down_call = scales[downs[0]], calls[downs[0]]
    looks = [t for t in ticks if scales[downs[0] - 1].at < t.at <= down.at]
    below_since = next(t.at for t in looks if t.target < t.workers and all(
        u.target < u.workers for u in looks if u.at >= t.at))  # fmt: skip
    assert down.at - below_since >= COOLDOWN
    assert not [t for t in looks if t.at < down.at and t.at - below_since >= COOLDOWN]  # no look was skipped
    gaps = [b.at - a.at for a, b in zip(ticks, ticks[1:])]
    stop_s = down_call["ended"] - down_call["began"]
    took = down_call["ended"] - t0 - below_since
    assert took <= COOLDOWN + max(gaps) + stop_s, f"took {took:.2f} s; longest look gap {max(gaps):.2f} s"
    assert our_threads() == []


def test_scale_down_loses_and_repeats_no_task_even_with_busy_workers(make_cluster):
    cluster = make_cluster(workers=1).start()

    def jumpy(queue_length, busy, workers, now):
        return 3 if queue_length else 1  # ignores busy workers: a scale-down must wait for their tasks

    trace = short_trace()
    setup = Setup("autoscaler", 1, autoscaler=dict(policy=jumpy, min_workers=1, max_workers=3, cooldown=0))
    result = run_on(cluster, setup, trace)
    downs_while_busy = [d for d in result.decisions if d.kind == "scale" and d.busy > d.target]
    assert downs_while_busy, f"expected a scale-down below the busy workers, found {result.decisions}"
    assert len(result.tasks) == len(trace)
    runs = {task["id"]: task["runs"] for task in result.tasks}
    assert sorted(set(runs.values())) == [1], f"expected every task to run once, found {runs}"
    assert our_threads() == []


def test_bounds_hold_whatever_the_policy_returns(make_cluster):
    cluster = make_cluster(workers=1).start()
    with Recorder(cluster, every=0.05) as recorder:
        with Autoscaler(cluster, lambda *load: 1000, min_workers=1, max_workers=3, interval=0.1) as greedy:
            wait_for(lambda: len(cluster.workers) == 3, what="3 workers")
            looked = len(greedy.ticks)
            wait_for(lambda: len(greedy.ticks) >= looked + 5, what="5 more looks")
        with Autoscaler(cluster, lambda *load: -5, min_workers=1, max_workers=3, cooldown=0.3, interval=0.1) as shy:
            wait_for(lambda: len(cluster.workers) == 1, what="1 worker")
            looked = len(shy.ticks)
            wait_for(lambda: len(shy.ticks) >= looked + 5, what="5 more looks")
    assert len(cluster.workers) == 1
    slots = [sample.slots for sample in recorder.samples]
    assert min(slots) == 1 and max(slots) == 3, f"expected between 1 and 3 workers, found {sorted(set(slots))}"
    up = greedy.changes
    assert [(d.wanted, d.target, d.clamped) for d in up] == [(1000, 3, True)]
    held = [d for d in greedy.decisions if d.kind == "wait"]
    assert len(held) == 1 and "1000 is above the maximum: clamped to 3" in held[0].reason
    assert [(d.wanted, d.target, d.clamped) for d in shy.changes] == [(-5, 1, True)]
    assert "-5 is below the minimum: clamped to 1" in shy.changes[0].reason


def test_a_policy_that_raises_is_reported_and_the_last_target_stays(make_cluster):
    cluster = make_cluster(workers=1).start()
    asked = []

    def fragile(queue_length, busy, workers, now):
        asked.append(now)
        if len(asked) <= 2:
            return 2
        return 1 / 0

    with Autoscaler(cluster, fragile, min_workers=1, max_workers=3, cooldown=0, interval=0.05) as scaler:
        wait_for(lambda: len(asked) >= 12, what="12 looks")
        assert scaler.running
    assert len(cluster.workers) == 2 and scaler.target == 2
    assert len(scaler.errors) == 1, scaler.table()
    error = scaler.errors[0]
    assert error.repeats >= 9 and error.target == 2
    assert error.reason == "the policy raised ZeroDivisionError: division by zero: keeping 2 workers"

    confused = Autoscaler(cluster, lambda *load: "two", min_workers=1, max_workers=3)
    confused.tick()
    assert [d.reason for d in confused.decisions] == [
        "the policy returned 'two', expected a whole number of workers: keeping 2"
    ]
    assert our_threads() == []


def test_a_setup_with_celerys_autoscale_grows_one_workers_pool(tmp_path, capsys):
    folder = tmp_path / "clusters"
    trace = short_trace()
    setup = Setup("celery_autoscale", 1, celery_autoscale=(3, 1))
    try:
        results = compare(trace, [setup], runtime_dir=str(folder), progress=True)  # says which set-up runs
    finally:
        left = stop_leftovers(folder)
    assert not left, left
    assert capsys.readouterr().out == "set-up 1 of 1: Celery --autoscale=3,1 on one worker…\n"
    result = results.by_key("celery_autoscale")
    assert len(result.tasks) == len(trace) and {task["runs"] for task in result.tasks} == {1}
    assert {task["worker"].split("@")[0] for task in result.tasks} == {"w1"}  # one worker ...
    assert result.peak_slots == 3 and result.samples[0].slots == 1  # ... whose pool grew from 1 to 3
    assert 0 < result.p50 <= result.p95
    assert result.worker_seconds >= result.end  # at least one slot all along
    assert result.row()["run_twice"] == 0


@pytest.mark.parametrize("bad", [(0, 0), (2, 3), (17, 1), "3,1", (2.0, 1), (True, 0)])
def test_cluster_refuses_a_nonsense_autoscale(bad):
    from labapp import Cluster

    with pytest.raises(ValueError, match="worker_autoscale must be"):
        Cluster(workers=1, worker_autoscale=bad)


def test_a_second_autoscaler_on_a_cluster_replaces_the_first(make_cluster):
    cluster = make_cluster(workers=1).start()
    first = Autoscaler(cluster, lambda *load: 1, interval=0.1).start()
    second = Autoscaler(cluster, lambda *load: 1, interval=0.1).start()  # a cell run twice
    try:
        assert not first.running and second.running
        assert our_threads() == ["labapp-autoscaler"]
    finally:
        second.stop()
    assert our_threads() == []


def test_the_autoscaler_ends_with_its_cluster(make_cluster):
    cluster = make_cluster(workers=1).start()
    scaler = Autoscaler(cluster, lambda *load: 1, interval=0.05).start()
    cluster.stop()  # the stop cell, with the autoscaler still on
    wait_for(lambda: not scaler.running, what="the autoscaler to end")
    assert scaler.decisions[-1].reason == "the cluster stopped: so did its autoscaler"
    scaler.stop()
    assert our_threads() == []
