"""How the lab's workers store task states (issue 22): one broker round trip per state, Celery's rules kept.

Celery's Redis backend reads a task's stored result before it writes a new state (a redelivered task must
not overwrite its SUCCESS), then writes and publishes it: two round trips, twice per task with STARTED.
The workers' backend does the same in one script; a server that refuses scripts gets Celery's way.
"""

import json

import pytest
import redis
from celery import states

from labapp import Settings
from labapp.engine import classroom_protocol
from labapp.engine.broker import BrokerServer
from labapp.engine.celery_config import StoringRedisBackend, make_celery


@pytest.fixture
def broker(tmp_path):
    password = "worker-password-for-this-test-only-0123456789"
    server = BrokerServer(
        data_dir=tmp_path / "data",
        log_path=tmp_path / "broker.log",
        worker_users={classroom_protocol.WORKER_USER: password},
    ).start()
    server.worker_url = server.url.replace(f"default:{server.password}", f"{classroom_protocol.WORKER_USER}:{password}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def one_trip():
    """Each test starts with the one-round-trip store on, and leaves it so."""
    StoringRedisBackend.one_trip = True
    yield
    StoringRedisBackend.one_trip = True


def storing_backend(url: str) -> StoringRedisBackend:
    app = make_celery(Settings(), url, storing=True)
    backend = app.backend
    assert isinstance(backend, StoringRedisBackend), f"expected the workers' backend, found {type(backend).__name__}"
    return backend


def stored(url: str, task_id: str) -> dict:
    client = redis.Redis.from_url(url)
    try:
        raw = client.get(f"celery-task-meta-{task_id}")
        return json.loads(raw) if raw else {}
    finally:
        client.close()


@pytest.mark.parametrize("user", ["owner", "class worker (no scripts)"])
def test_a_stored_success_is_never_overwritten_by_a_later_state(broker, one_trip, user):
    url = broker.url if user == "owner" else broker.worker_url
    backend = storing_backend(url)
    backend.store_result("t1", {"value": 1}, states.STARTED)
    assert stored(broker.url, "t1")["status"] == states.STARTED
    backend.store_result("t1", {"value": 2}, states.SUCCESS)
    # a redelivered run of the same task starts again, and may even end otherwise: the first SUCCESS stays
    backend.store_result("t1", None, states.STARTED)
    backend.store_result("t1", "boom", states.FAILURE)
    meta = stored(broker.url, "t1")
    assert (meta["status"], meta["result"]) == (states.SUCCESS, {"value": 2}), (
        f"expected the first SUCCESS, found {meta}"
    )
    assert StoringRedisBackend.one_trip == (user == "owner"), "a refused script falls back to Celery's two trips"


def test_a_stored_state_expires_and_is_published_like_celerys(broker, one_trip):
    backend = storing_backend(broker.url)
    listener = redis.Redis.from_url(broker.url).pubsub()
    listener.subscribe("celery-task-meta-t2")
    listener.get_message(timeout=5)  # the subscription's confirmation
    backend.store_result("t2", None, states.STARTED)
    message = listener.get_message(timeout=5)
    listener.close()
    assert message and json.loads(message["data"])["status"] == states.STARTED, f"expected STARTED, found {message}"
    client = redis.Redis.from_url(broker.url)
    ttl = client.ttl("celery-task-meta-t2")
    client.close()
    assert 0 < ttl <= Settings().result_expires, (
        f"expected an expiry of at most {Settings().result_expires} s, found {ttl}"
    )


def test_a_lab_worker_stores_each_state_of_a_task_in_one_round_trip(make_cluster):
    cluster = make_cluster(workers=1).start()
    cluster.celery.send_task("labapp.tasks.sleep_ms", kwargs={"ms": 0}).get(timeout=60)  # the worker is warm
    count = 50
    before = cluster.redis.info("commandstats")
    results = [cluster.celery.send_task("labapp.tasks.sleep_ms", kwargs={"ms": 0}) for _ in range(count)]
    for result in results:
        assert result.get(timeout=60)["ms"] == 0
        assert result.state == states.SUCCESS
    after = cluster.redis.info("commandstats")

    def per_task(command: str) -> float:
        key = f"cmdstat_{command}"
        return (after.get(key, {}).get("calls", 0) - before.get(key, {}).get("calls", 0)) / count

    # STARTED and SUCCESS: one script each. The transactions left are kombu's (the message's ack bookkeeping)
    assert per_task("evalsha") >= 2, f"expected 2 scripts per task, found {per_task('evalsha')}"
    assert per_task("exec") < 3, f"expected at most 2 transactions per task (kombu's), found {per_task('exec')}"
