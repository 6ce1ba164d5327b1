"""Whatever a client sends, the API answers 202, 400 or 413 with a JSON body: never a 500."""

import json
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.integers(min_value=-10**1000, max_value=10**1000),  # past what a float can hold
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=10,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["x", "n", "y"]), json_values, max_size=3).map(lambda v: json.dumps(v).encode()),
)


@pytest.fixture(scope="module")
def idle_api():
    """A cluster with no workers: accepted tasks wait in the queue and cost nothing."""
    from labapp import Cluster

    with Cluster(workers=0, name="fuzz", visibility_timeout=6, longtask_max_x=5) as cluster:
        yield cluster.api_url


def post(base_url: str, path: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(base_url + path, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/longtask", "/factorial"]), body=bodies)
def test_any_body_gets_a_clear_answer(idle_api, path, body):
    status, answer = post(idle_api, path, body)
    assert status in (202, 400), (status, answer)
    if status == 202:
        assert set(answer) == {"task_id", "status_url"}
    else:
        assert isinstance(answer["error"], str) and answer["error"]
