"""The elastic engine's arithmetic, without a cluster: traces, percentiles, worker-seconds, the default policy,
what a policy may answer, the autoscaler's and the cluster's checks of their bounds."""

from __future__ import annotations

import pytest

from labapp import Cluster
from labapp.elastic import (
    Autoscaler,
    QueueLengthPolicy,
    bursty_trace,
    default_setups,
    lesson_trace,
    percentile,
    short_trace,
)
from labapp.elastic.autoscaler import Load, as_worker_count
from labapp.elastic.recorder import Sample, worker_seconds
from labapp.engine.celery_config import worker_command


def test_a_trace_is_the_same_for_a_seed_and_another_for_another_seed():
    first, again, other = bursty_trace(7), bursty_trace(7), bursty_trace(8)
    assert first.arrivals == again.arrivals
    assert first.arrivals != other.arrivals
    assert [a.at for a in first.arrivals] == sorted(a.at for a in first.arrivals)


def test_a_trace_holds_its_bursts_inside_its_length():
    trace = bursty_trace(3, length=30, trickle_per_s=0, bursts=((5, 50, 1.0), (20, 10, 0.5)), task_s=0.75)
    assert len(trace) == 60 and trace.work_s == 45
    per_second = trace.counts_per_second()
    assert per_second[5] == 50 and per_second[20] == 10 and sum(per_second) == 60
    assert "60 tasks of 0.75 s over 30 s (seed 3)" in trace.describe()


@pytest.mark.parametrize(
    "kwargs", [dict(task_s=0.3), dict(task_s=0), dict(bursts=((89.5, 10, 1.0),)), dict(bursts=((-1, 10, 1.0),))]
)
def test_a_trace_refuses_what_it_cannot_replay(kwargs):
    with pytest.raises(ValueError):
        bursty_trace(1, **kwargs)


def test_the_short_trace_has_one_burst_and_a_quiet_tail():
    trace = short_trace()
    assert len(trace.bursts) == 1 and trace.bursts[0].tasks == 24
    assert max(a.at for a in trace.arrivals) < trace.length


def test_the_lessons_trace_has_two_bursts_a_cooldown_apart():
    trace = lesson_trace()
    first, second = trace.bursts
    assert (first.tasks, second.tasks) == (24, 16) and trace.length <= 20  # four replays fit in a lesson
    drained = first.at + first.over + first.tasks * trace.task_s / 8  # on 8 workers, at best
    assert second.at - drained > 5.0  # longer than the default cooldown: the scaler may step down
    assert max(a.at for a in trace.arrivals) < trace.length


def test_percentile_by_nearest_rank():
    values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6]
    assert percentile(values, 50) == 5 and percentile(values, 95) == 10 and percentile(values, 0) == 1
    assert percentile([3.0], 95) == 3.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_worker_seconds_integrate_slots_up_to_the_end():
    samples = [Sample(0.0, 1, 0, 0, 1), Sample(2.0, 4, 10, 4, 4), Sample(5.0, 2, 0, 0, 2)]
    assert worker_seconds(samples, 6.0) == 1 * 2 + 4 * 3 + 2 * 1
    assert worker_seconds(samples, 3.0) == 1 * 2 + 4 * 1


def test_the_queue_length_policy_and_its_reasons():
    policy = QueueLengthPolicy(per_worker=4)
    assert policy(40, 8, 8, 0.0) == 10
    assert policy(0, 3, 8, 0.0) == 3  # never below the busy workers
    assert policy(1, 0, 8, 0.0) == 1 and policy(0, 0, 8, 0.0) == 0
    assert policy.explain(Load(40, 8, 8), 10) == "queue 40 > 4 × 8 workers → 10"
    assert policy.explain(Load(0, 3, 8), 3) == "queue 0 ≤ 4 × 8 workers, 3 busy → 3"
    assert policy.explain(Load(6, 1, 1), 2) == "queue 6 > 4 × 1 worker → 2"
    with pytest.raises(ValueError, match="per_worker"):
        QueueLengthPolicy(0)


@pytest.mark.parametrize(
    "answer, count", [(3, 3), (2.1, 3), (-5, -5), (True, None), (None, None), ("4", None), (float("nan"), None)]
)
def test_what_a_policy_may_answer(answer, count):
    assert as_worker_count(answer) == count


@pytest.mark.parametrize(
    "bounds", [dict(min_workers=3, max_workers=2), dict(min_workers=-1), dict(max_workers=0), dict(max_workers=99)]
)
def test_the_autoscaler_refuses_nonsense_bounds(bounds):
    with pytest.raises(ValueError, match="min_workers <= max_workers"):
        Autoscaler(Cluster(workers=1), **bounds)


@pytest.mark.parametrize("options", [dict(cooldown=-1), dict(interval=0), dict(cooldown=float("inf"))])
def test_the_autoscaler_refuses_nonsense_times(options):
    with pytest.raises(ValueError, match="seconds"):
        Autoscaler(Cluster(workers=1), **options)


def test_the_autoscaler_refuses_a_policy_that_is_no_function():
    with pytest.raises(TypeError, match="policy must be a function"):
        Autoscaler(Cluster(workers=1), 4)


def test_a_worker_with_celerys_autoscale_has_no_fixed_concurrency():
    plain = worker_command("labapp.worker", "w1@host")
    grown = worker_command("labapp.worker", "w1@host", autoscale=(8, 1))
    assert plain[plain.index("--concurrency") + 1] == "1" and "--autoscale" not in plain
    assert grown[grown.index("--autoscale") + 1] == "8,1" and "--concurrency" not in grown
    assert Cluster(workers=1, worker_autoscale=(8, 1)).worker_autoscale == (8, 1)


def test_the_four_setups_of_lesson_10():
    setups = default_setups(2, 8, cooldown=5)
    assert [s.key for s in setups] == ["small", "large", "celery_autoscale", "autoscaler"]
    assert [s.label for s in setups] == [
        "a fixed pool of 2 workers",
        "a fixed pool of 8 workers",
        "Celery --autoscale=8,1 on one worker",
        "the lab's autoscaler, 1 to 8 workers, cooldown 5 s",
    ]


def test_the_reasons_read_in_portuguese(monkeypatch):
    monkeypatch.setenv("LABAPP_LANG", "pt_BR")
    policy = QueueLengthPolicy(per_worker=4)
    assert policy.explain(Load(40, 8, 8), 10) == "fila 40 > 4 × 8 workers → 10"
    assert default_setups(2, 8)[0].label == "um pool fixo de 2 workers"


def made_up_result(key: str, latencies: list[float], slots: list[int], decisions=()):
    """A SetupResult of a made-up run: one task per latency, one sample a second."""
    from labapp.elastic.setups import SetupResult

    setup = {s.key: s for s in default_setups(2, 8, cooldown=5)}[key]
    trace = short_trace()
    tasks = [
        {"id": f"t{i}", "due": 0.0, "sent": 0.0, "started": 0.0, "finished": 1.0 + i, "latency": lat, "runs": 1}
        for i, lat in enumerate(latencies)
    ]
    samples = [Sample(float(at), n, 0, 0, n) for at, n in enumerate(slots)]
    return SetupResult(setup, trace, tasks, samples, list(decisions))


def test_the_cheapest_setup_within_a_latency_target():
    from labapp.elastic.setups import Comparison

    small = made_up_result("small", [1, 2, 9], [2] * 4)
    large = made_up_result("large", [1, 1, 2], [8] * 4)
    auto = made_up_result("autoscaler", [1, 2, 3], [1, 8, 8, 1])
    results = Comparison([small, large, auto])
    assert results.cheapest(3.0) is auto and results.cheapest(2.0) is large and results.cheapest(0.5) is None
    assert results.by_key("small") is small
    assert "p95 s" in results.table() and "a fixed pool of 8 workers" in results.table()


def test_what_the_cooldown_cost():
    from labapp.elastic.autoscaler import Decision

    decisions = [
        Decision(1.0, "scale", 30, 1, 1, 8, 8, "up"),
        Decision(10.0, "wait", 0, 2, 8, 2, 2, "wait"),
        Decision(15.0, "scale", 0, 2, 8, 2, 2, "down"),
        Decision(20.0, "scale", 0, 0, 2, 1, 1, "down at once (no cooldown)"),
    ]
    result = made_up_result("autoscaler", [1.0], [1, 8], decisions)
    assert result.cooldown_cost == 6 * 5.0
    assert result.changes == 3


def test_the_lessons_sentences_are_computed_from_the_run():
    from labapp.elastic.autoscaler import Decision
    from labapp.elastic.setups import Comparison

    decisions = [Decision(1.0, "scale", 30, 1, 1, 8, 8, "up"), Decision(2.0, "wait", 0, 0, 8, 0, 1, "wait"),
                 Decision(3.0, "scale", 0, 0, 8, 0, 1, "down")]  # fmt: skip
    large = made_up_result("large", [1, 1, 2], [8] * 4)
    auto = made_up_result("autoscaler", [1, 2, 3], [1, 8, 8, 1], decisions)
    cheapest, saved, cooldown = Comparison([large, auto]).conclusions(3.0)
    assert cheapest == (
        "For a p95 of at most 3 s, the cheapest set-up was the lab's autoscaler, 1 to 8 workers, cooldown 5 s: "
        "p95 3.00 s, 17 worker-seconds."
    )
    assert saved.startswith(
        "The lab's autoscaler spent 71% of the worker-seconds of the fixed pool of 8 (17 against 24)"
    )
    assert "p95 1.5 times as long" in saved
    assert cooldown == (
        "The autoscaler's cooldown of 5 s kept idle workers alive for 7 worker-seconds before its scale-down, "
        "41% of all it spent."
    )
    assert Comparison([large, auto]).conclusions(0.5)[0] == (
        "No set-up kept its p95 within 0.5 s: the fastest, a fixed pool of 8 workers, took 2.00 s."
    )


def test_a_set_up_may_have_a_title_of_its_own():
    from labapp.elastic import Setup

    assert Setup("mine", 1, autoscaler={}, title="your policy").label == "your policy"


def test_the_timeline_figure_stacks_workers_over_the_queue():
    from labapp.elastic.figures import timeline_figure

    results = [made_up_result("large", [1.0], [8, 8, 8]), made_up_result("autoscaler", [2.0], [1, 8, 1])]
    fig = timeline_figure(results)
    workers_ax, queue_ax = fig.axes
    assert workers_ax.get_ylabel() == "workers (task slots)"
    assert queue_ax.get_ylabel() == "tasks waiting in the queue"
    assert queue_ax.get_xlabel() == "seconds since the trace started"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [r.setup.label for r in results]
    assert "One bursty trace, 2 set-ups" in fig._suptitle.get_text()
