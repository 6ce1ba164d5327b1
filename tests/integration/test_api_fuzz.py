"""Whatever a client sends, the API answers 202, 400 or 413 with a JSON body: never a 500,
and 202 exactly for the bodies that the rules of the API accept."""

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.raw_http import raw_request

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.integers(min_value=-(10**1000), max_value=10**1000),  # past what a float can hold
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=10,
)
# one field, x or n, with a number near the bounds of x (0 to 5) or n (0 to 20000), or another kind
near_bounds = st.dictionaries(
    st.sampled_from(["x", "n"]),
    st.integers(-3, 20003) | st.floats(-1, 20001) | st.booleans() | st.none() | st.text(max_size=3),
    min_size=1,
    max_size=1,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["x", "n", "y"]), json_values, max_size=3).map(lambda v: json.dumps(v).encode()),
    near_bounds.map(lambda v: json.dumps(v).encode()),
)
BODY_LIMIT = 16 * 1024
# bodies from just under to just over the size limit: spaces around valid or invalid JSON
sized_bodies = st.tuples(bodies, st.integers(-2, 2)).map(lambda b: b[0] + b" " * max(0, BODY_LIMIT + b[1] - len(b[0])))


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def expected_status(path: str, body: bytes, limits) -> int:
    """The oracle: what the API must answer, from the rules in DESIGN.md, not from its code."""
    if len(body) > BODY_LIMIT:
        return 413
    field, integer, maximum = {
        "/longtask": ("x", False, limits.longtask_max_x),
        "/factorial": ("n", True, limits.factorial_max_n),
    }[path]
    try:
        value = json.loads(body, parse_constant=_no_constants)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return 400
    if not isinstance(value, dict) or set(value) != {field}:
        return 400
    number = value[field]
    if integer and isinstance(number, float) and number.is_integer():
        number = int(number)  # JSON has one number type: 20000.0 is the integer 20000 (JSON Schema agrees)
    if isinstance(number, bool) or not isinstance(number, int if integer else (int, float)):
        return 400
    return 202 if 0 <= number <= maximum else 400  # an infinity fails this too


def at_the_bounds(test):
    """Always try each bound and its neighbours; hypothesis may not draw them in a run."""
    cases = [("/longtask", f'{{"x": {v}}}') for v in ("-1", "-0.0", "0", "5", "5.0", "5.01", "6", "1e400")]
    cases += [("/factorial", f'{{"n": {v}}}') for v in ("-1", "0", "20000", "20000.0", "20001", "true")]
    cases += [("/longtask", '{"x": 1}' + " " * (BODY_LIMIT - 8 + extra)) for extra in (0, 1)]
    for path, body in cases:
        test = example(path=path, body=body.encode())(test)
    return test


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/longtask", "/factorial"]), body=bodies | sized_bodies)
@at_the_bounds
def test_any_body_gets_a_clear_answer(idle_cluster, path, body):
    queued = idle_cluster.queue_length()
    status, answer, _ = raw_request(idle_cluster.api_url, "POST", path, body)
    assert status == expected_status(path, body, idle_cluster.settings), (status, answer)
    if status == 202:
        assert set(answer) == {"task_id", "status_url"}
    else:
        assert isinstance(answer["error"], str) and answer["error"]
    # no worker runs here: an accepted task waits in the queue, a refused one is not there
    assert idle_cluster.queue_length() == queued + (status == 202)
