"""The class's progress traffic against none: the broker's load and a task batch's throughput, in one run.

    .venv/bin/python -m benchmarks.progress_load [--students 60] [--every 3] [--tasks 300] [--ms 20] [--trials 3]

A classroom cluster (2 workers, loopback) is measured in alternating windows, without and with the
progress traffic of a class: --students simulated students, each on a connection of its own with the
join file's `worker` user, each sending one check's record (labapp.progress, 7 exercises) every
--every seconds on average (jittered), plus the instructor's ProgressGrid reading the list once a
second. In each window: the broker's commands per second (INFO total_commands_processed) and its CPU
(user + system time of the valkey-server process / wall time), while a batch of --tasks sleep tasks of
--ms ms runs and for 5 s with none, and the batch's throughput (first sent to last result read).
Prints each window and the medians.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time

import psutil

from labapp import Cluster, progress

EXERCISES = [f"ex{n:02d}" for n in range(1, 8)]


class ClassTraffic:
    """Simulated students reporting checks, and the instructor's grid reading them, until stopped."""

    def __init__(self, cluster, students: int, every: float):
        self.cluster = cluster
        self.url = cluster.join_file.read_text().splitlines()[0]
        self.students = students
        self.every = every
        self.stop = threading.Event()
        self.sent = 0
        self.threads: list[threading.Thread] = []

    def student(self, number: int) -> None:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=5)
        rng = random.Random(number)
        name = f"s{number:02d}"
        self.stop.wait(rng.uniform(0, self.every))  # students do not check in step
        while not self.stop.is_set():
            passed = rng.random() < 0.4
            record = progress.progress_record(name, rng.choice(EXERCISES), passed, "expected 202, found 500")
            client.rpush(progress.LIST_KEY, json.dumps(record))
            self.sent += 1
            self.stop.wait(rng.uniform(0.5, 1.5) * self.every)
        client.close()

    def instructor(self) -> None:
        reader = progress.ClassProgress.of_cluster(self.cluster, EXERCISES)
        while not self.stop.is_set():
            reader.refresh()
            reader.snapshot()
            self.stop.wait(1.0)

    def __enter__(self) -> "ClassTraffic":
        self.stop.clear()
        targets = [lambda n=n: self.student(n) for n in range(self.students)] + [self.instructor]
        self.threads = [threading.Thread(target=target, daemon=True) for target in targets]
        for thread in self.threads:
            thread.start()
        time.sleep(self.every)  # every student has started
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def batch(cluster, tasks: int, ms: int) -> float:
    """Send tasks sleep tasks of ms ms, read every result; tasks per second."""
    started = time.perf_counter()
    results = [cluster.celery.send_task("labapp.tasks.sleep_ms", kwargs={"ms": ms}) for _ in range(tasks)]
    for result in results:
        result.get(timeout=120)
    return tasks / (time.perf_counter() - started)


def window(cluster, broker: psutil.Process, tasks: int, ms: int) -> dict:
    """One measured window: a batch, and the broker's commands and CPU while it ran."""
    before_commands = cluster.redis.info("stats")["total_commands_processed"]
    before_cpu = sum(broker.cpu_times()[:2])
    started = time.perf_counter()
    throughput = batch(cluster, tasks, ms)
    wall = time.perf_counter() - started
    commands = cluster.redis.info("stats")["total_commands_processed"] - before_commands
    cpu = sum(broker.cpu_times()[:2]) - before_cpu
    return {"tasks_per_s": throughput, "broker_commands_per_s": commands / wall, "broker_cpu_percent": 100 * cpu / wall}


def idle(cluster, broker: psutil.Process, seconds: float = 5.0) -> dict:
    """The broker's commands per second and CPU with no task running (the class's background traffic)."""
    before_commands = cluster.redis.info("stats")["total_commands_processed"]
    before_cpu = sum(broker.cpu_times()[:2])
    time.sleep(seconds)
    commands = cluster.redis.info("stats")["total_commands_processed"] - before_commands
    cpu = sum(broker.cpu_times()[:2]) - before_cpu
    return {"broker_commands_per_s": commands / seconds, "broker_cpu_percent": 100 * cpu / seconds}


def main() -> int:
    """Run the alternating windows; print each and the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between two checks of one student")
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--ms", type=int, default=20)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labapp-progress-bench-") as folder:
        with Cluster(workers=2, name="bench-progress", classroom=True, runtime_dir=folder) as cluster:
            broker = psutil.Process(cluster.broker.proc.pid)
            batch(cluster, 20, 1)  # warm up: every worker has run a task
            traffic = ClassTraffic(cluster, args.students, args.every)
            figures: dict[str, list[dict]] = {"none": [], "progress": []}
            for trial in range(1, args.trials + 1):
                for label in ("none", "progress"):
                    if label == "progress":
                        with traffic:
                            point = window(cluster, broker, args.tasks, args.ms)
                            quiet = idle(cluster, broker)
                    else:
                        point = window(cluster, broker, args.tasks, args.ms)
                        quiet = idle(cluster, broker)
                    point.update({f"idle_{key}": value for key, value in quiet.items()})
                    figures[label].append(point)
                    print(
                        f"trial {trial}, {label:<8}: {point['tasks_per_s']:6.1f} tasks/s, broker "
                        f"{point['broker_commands_per_s']:7.0f} commands/s, {point['broker_cpu_percent']:5.1f} % CPU; "
                        f"no tasks: {quiet['broker_commands_per_s']:5.0f} commands/s, "
                        f"{quiet['broker_cpu_percent']:4.1f} % CPU",
                        flush=True,
                    )
            records = cluster.redis.llen(progress.LIST_KEY)
            memory = cluster.redis.memory_usage(progress.LIST_KEY) or 0
    medians = {
        label: {key: statistics.median(point[key] for point in points) for key in points[0]}
        for label, points in figures.items()
    }
    none, busy = medians["none"], medians["progress"]
    print(
        f"\n{args.students} students, a check every {args.every:g} s each "
        f"({args.students / args.every:.0f} records/s), {records} records sent ({memory / 1024:.0f} KiB in the broker)"
    )
    for label, point in medians.items():
        print(
            f"median {label:<8}: {point['tasks_per_s']:6.1f} tasks/s, broker {point['broker_commands_per_s']:7.0f} "
            f"commands/s, {point['broker_cpu_percent']:5.1f} % CPU; no tasks: "
            f"{point['idle_broker_commands_per_s']:5.0f} commands/s, {point['idle_broker_cpu_percent']:4.1f} % CPU"
        )
    print(f"throughput with progress / without: {busy['tasks_per_s'] / none['tasks_per_s']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
