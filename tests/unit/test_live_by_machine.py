"""Lesson 08's helpers: which machine a worker belongs to, and throughput by machine."""

from labapp import classroom


def test_a_worker_belongs_to_the_name_it_joined_with():
    assert classroom.machine_of("guest-w1@laptop") == "guest"
    assert classroom.machine_of("ana-maria-w12@laptop") == "ana-maria"
    assert classroom.machine_of("w2@vm") == classroom.INSTRUCTOR


def test_rates_are_per_machine_over_the_asked_window_in_order_of_joining():
    live = classroom.LiveThroughputByMachine(cluster=None, seconds=6, join_at={3: "carol"})
    live.samples = [
        (1.0, {"instructor": 10, "guest": 8}),
        (2.0, {"guest": 9, "instructor": 11}),
        (4.0, {"carol": 4, "instructor": 10, "guest": 10}),
        (5.0, {"carol": 10, "guest": 9}),
    ]
    live.workers = [4, 4, 6, 6]
    assert live.machines() == ["instructor", "guest", "carol"]
    assert live.rates(0, 3) == {"instructor": 10.5, "guest": 8.5, "carol": 0.0}
    assert live.rates(4, 6) == {"instructor": 5.0, "guest": 9.5, "carol": 7.0}
    figure = live.figure()
    assert "carol joins" in [text.get_text() for text in figure.axes[0].texts]
    assert any("ideal" in text.get_text() for text in figure.axes[0].get_legend().get_texts())
