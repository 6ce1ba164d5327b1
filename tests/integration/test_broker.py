"""The embedded broker's security and durability defaults, read back from the running server."""

import stat

import pytest
import redis

from labapp.engine.broker import BrokerServer


@pytest.fixture
def broker(tmp_path):
    server = BrokerServer(data_dir=tmp_path / "data", log_path=tmp_path / "broker.log").start()
    try:
        yield server
    finally:
        server.stop()


def test_broker_listens_on_loopback_with_a_password_only(broker):
    assert broker.host == "127.0.0.1" and len(broker.password) >= 32
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=broker.port).ping()  # no password: refused
    client = redis.Redis.from_url(broker.url)
    assert client.config_get("bind")["bind"].split() == ["127.0.0.1"]
    assert client.config_get("protected-mode")["protected-mode"] == "yes"
    client.close()


def test_broker_keeps_tasks_and_never_evicts(broker):
    client = redis.Redis.from_url(broker.url)
    assert client.config_get("appendonly")["appendonly"] == "yes"
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    client.close()


def test_password_is_in_a_private_file_not_on_the_command_line(broker):
    mode = stat.S_IMODE(broker.config_path.stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert broker.password not in " ".join(broker.proc.args)
