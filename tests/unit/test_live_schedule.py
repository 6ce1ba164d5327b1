"""A live run ends once its planned length is over and its last change has been measured, even on a busy machine."""

from labapp.classroom import LiveThroughputByMachine
from labapp.live import LiveThroughput


def test_a_scale_that_took_effect_late_is_still_measured():
    live = LiveThroughput(cluster=None, seconds=18, scale_at={6: 4, 12: 6})
    assert not live.finished(17.9)
    assert not live.finished(18), "a change still to come at the end"
    live._pending.clear()
    live._scaled_at = 13.0  # a quiet machine: 6 workers from 13 s
    assert live.finished(18)
    live._scaled_at = 17.0  # a busy one: 6 workers only from 17 s
    assert not live.finished(18) and not live.finished(19.9) and live.finished(20)
    live._pending[12] = 6  # never took effect: the run still ends, a minute later
    assert not live.finished(77.9) and live.finished(78)


def test_a_machine_that_joined_late_is_waited_for_until_it_finished_a_task():
    live = LiveThroughputByMachine(cluster=None, seconds=16, join_at={6: "carol"})
    live._pending.clear()
    live.joined_at["carol"] = 6.0
    assert not live.finished(16), "carol has finished no task yet"
    live.first_task_at["carol"] = 8.1
    assert live.finished(16)
    live.first_task_at["carol"] = 14.5
    assert not live.finished(17) and live.finished(17.5)


def test_the_plot_spans_the_run_as_it_happened():
    live = LiveThroughput(cluster=None, seconds=18)
    live.samples = [(float(second), 10.0, 2) for second in range(21)]
    assert live.length == 21.0


class SlowToScale:
    """A cluster whose scale() takes a while, as on a busy machine; the queue is always full."""

    def __init__(self):
        import threading

        self.workers = {"w1": None, "w2": None}
        self.release = threading.Event()

    def queue_length(self):
        return 10_000

    def scale(self, workers):
        self.release.wait(5)
        self.workers = {f"w{n}": None for n in range(1, workers + 1)}


def test_scaling_goes_on_beside_the_sampling_loop():
    cluster = SlowToScale()
    live = LiveThroughput(cluster=cluster, seconds=18, scale_at={6: 4})
    live.started = 0.0
    live.step(6.0)
    live.step(6.05)  # returns at once: scale() runs in its thread, samples go on meanwhile
    assert live.settled_at() is None and len(cluster.workers) == 2
    cluster.release.set()
    live.after_run()
    assert len(cluster.workers) == 4 and live.settled_at() is not None
