"""What the lessons rely on: the blocking anti-pattern endpoint, the delivery option, Flower, the helpers."""

from __future__ import annotations

import json
import urllib.request

import pytest

from labapp.lesson import plateau, scaling_conclusions


def points(*throughputs, start=1):
    """Scaling records with throughput, speedup and efficiency for 1, 2, 4, 8 ... workers."""
    from labapp.bench import summarize

    counts = [start * 2 ** i for i in range(len(throughputs))]
    return summarize([{"workers": n, "tasks": t * 10, "wall_s": 10.0} for n, t in zip(counts, throughputs)])


SLEEP = points(10, 20, 40, 78)


@pytest.mark.parametrize("cores, cpu, expected", [
    (2, points(10, 19, 19.5, 19.2), "stopped scaling at 2 workers"),
    (1, points(10, 10.2, 10.1, 10.0), "stopped scaling at 1 worker:"),
    (16, points(10, 20, 39, 77), "kept scaling up to 8 workers"),
])
def test_scaling_sentences_follow_the_numbers_and_the_cores(cores, cpu, expected):
    text = " ".join(scaling_conclusions(SLEEP, cpu, cores))
    assert expected in text
    assert f"{cores} core" in text
    if plateau(cpu) == cores:
        assert "That is the" in text


def test_a_plateau_below_the_cores_is_not_blamed_on_them():
    text = " ".join(scaling_conclusions(SLEEP, points(10, 19, 19.5, 19.2), 8))
    assert "fewer than the 8 cores" in text


def test_the_blocking_endpoint_computes_inside_the_request(client):
    answer = client.request("POST", "/blocking/factorial", {"n": 25})
    assert answer["value"] == "15511210043330985984000000" and answer["digits"] == 26
    with pytest.raises(Exception) as refused:
        client.request("POST", "/blocking/factorial", {"n": -1})
    assert getattr(refused.value, "status", None) == 400


def test_long_task_results_count_their_runs(client):
    from conftest import wait_state

    task_id = client.submit_longtask(0)
    assert wait_state(client, task_id)["result"]["run"] == 1


def test_early_ack_is_celerys_default_delivery(make_cluster):
    cluster = make_cluster(workers=0, delivery="early_ack").start()
    conf = cluster.celery.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost, conf.worker_prefetch_multiplier) == (False, False, 4)
    with pytest.raises(ValueError, match="LABAPP_DELIVERY must be one of"):
        make_cluster(workers=0, delivery="exactly_once")


def test_flower_runs_on_loopback_without_the_password_on_its_command_line(make_cluster):
    import psutil

    cluster = make_cluster(workers=1).start()
    url = cluster.flower()
    assert url.startswith("http://127.0.0.1:") and cluster.flower() == url  # a second call reuses it
    with urllib.request.urlopen(f"{url}/api/workers?refresh=1", timeout=10) as answer:
        assert cluster.node_name("w1") in json.loads(answer.read())  # its API answers, no 401
    process = psutil.Process(cluster.extras["flower"].proc.pid)
    password = cluster.broker_url.split("://:", 1)[1].split("@", 1)[0]
    assert password not in " ".join(process.cmdline())
    assert any(row["component"] == "flower" for row in cluster.status())
    cluster.stop()
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
