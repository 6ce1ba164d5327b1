"""The exercises' checks: run the student's work on the real cluster and say precisely what is wrong.

Each ``check_exNN`` raises ``CheckFailed`` with "expected X, found Y" in the
exercise's words (IPython shows that line, not a traceback into the lab), or
prints what passed.
"""

from __future__ import annotations

import functools
import math
import random
import sys
import time
import uuid

import requests

TASK_TIMEOUT = 20.0


class CheckFailed(Exception):
    """The student's work is not right yet; the message says what was expected and what was found."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the message alone."""
        return [f"\u2717 {self}"]


def _any_digits(check):
    """Run a check with Python's 4300-digit guard lifted (big factorials), and put it back after."""
    @functools.wraps(check)
    def run(*args, **kwargs):
        before = sys.get_int_max_str_digits()
        sys.set_int_max_str_digits(0)
        try:
            return check(*args, **kwargs)
        finally:
            sys.set_int_max_str_digits(before)
    return run


def _fail(exercise: str, text: str) -> None:
    raise CheckFailed(f"{exercise}: {text}")


def _passed(exercise: str, text: str) -> None:
    print(f"\u2713 {exercise} passed: {text}")


# ------------------------------------------------------------------ helpers
def run_task(cluster, name: str, kwargs: dict, timeout: float = TASK_TIMEOUT) -> dict:
    """Send a task by name and wait for it: {"state", "result", "traceback"}; PENDING after timeout."""
    result = cluster.celery.send_task(name, kwargs=kwargs)
    deadline = time.monotonic() + timeout
    while not result.ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    state = result.state
    error = f"{type(result.result).__name__}: {result.result}" if state == "FAILURE" else ""
    return {"state": state, "result": result.result if state == "SUCCESS" else None,
            "error": error, "traceback": result.traceback or error, "id": result.id}


def unregistered(cluster, name: str) -> bool:
    """True if a worker's log says it received a task of this name it does not know."""
    needle = f"Received unregistered task of type '{name}'"
    return any(needle in cluster.logs(worker, tail=400) for worker in list(cluster.workers))


def _not_run_hint(cluster, name: str, module: str) -> str:
    if unregistered(cluster, name):
        return (f"the workers received {name} but do not know it (NotRegistered; 'Received unregistered task' in their "
                f"logs). Workers only run code they import: put the task in work/{module}.py and load it "
                f"with cluster.add_tasks('work/{module}.py'). A task defined in the notebook exists only "
                "in the notebook's process.")
    return (f"no worker ran {name} within {TASK_TIMEOUT:g} s. Is a worker running (cluster.status())? "
            f"Did cluster.add_tasks('work/{module}.py') succeed?")


def _failure_text(trace: str) -> str:
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "an error without a message"


def _require_module(cluster, exercise: str, module: str, kind: str = "tasks") -> None:
    loaded = cluster.student_tasks if kind == "tasks" else cluster.student_routes
    if module not in loaded:
        call = "add_tasks" if kind == "tasks" else "add_routes"
        _fail(exercise, f"expected work/{module}.py loaded with cluster.{call}('work/{module}.py'), "
                        f"found {'nothing loaded' if not loaded else 'only ' + ', '.join(sorted(loaded))}. "
                        "The cluster runs only code it was given that way.")


def _factorial_problem(exercise: str, n: int, outcome: dict, name: str) -> str | None:
    """What is wrong with one factorial result, in the exercise's words (None if it is right)."""
    if outcome["state"] == "FAILURE":
        trace = outcome["traceback"]
        if outcome["error"].startswith("NotRegistered"):
            return None  # the caller explains it: the workers never imported the module
        if "NotImplementedError" in trace:
            return f"{name}(n={n}) still raises NotImplementedError: replace the stub with your code."
        if "Exceeds the limit" in trace or "int_max_str_digits" in trace:
            return (f"{name}(n={n}) failed: {_failure_text(trace)}. {n}! has more than 4300 digits; "
                    "Python refuses to turn it into a string unless told to: call "
                    "sys.set_int_max_str_digits(0) in the task before str(...).")
        if "TypeError" in trace and "argument" in trace:
            return (f"{name}(n={n}) was called with n={n} and failed: {_failure_text(trace)}. "
                    "Expected a task that takes exactly one argument, n.")
        return f"{name}(n={n}) failed: {_failure_text(trace)}"
    result = outcome["result"]
    if not isinstance(result, dict) or set(result) != {"n", "digits", "value"}:
        return (f"expected {name}(n={n}) to return a dict with keys n, digits and value, "
                f"found {type(result).__name__} {str(result)[:80]!r}")
    value = result["value"]
    if isinstance(value, int):
        return (f"expected value as a decimal string, found an int. JSON readers turn big numbers into "
                f"floats (about 16 exact digits) and Python refuses int->str past 4300 digits: "
                f"return str(...) of the product.")
    expected = str(math.factorial(n))
    if value != expected:
        for other in (n - 1, n + 1):
            if other >= 0 and value == str(math.factorial(other)):
                return (f"expected {n}! = {_short(expected)}, found {_short(value)} = {other}!: off by one? "
                        "math.factorial(n) or a product over range(1, n + 1).")
        return f"expected {n}! = {_short(expected)}, found {_short(str(value))}"
    if result["digits"] != len(expected) or result["n"] != n:
        return (f"for n={n} expected n={n} and digits={len(expected)}, "
                f"found n={result['n']!r} and digits={result['digits']!r}")
    return None


def _short(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:10]}…{text[-10:]} ({len(text)} digits)"


def _fresh_inputs() -> list[int]:
    """Small, edge and big inputs, one of them new each time (a hard-coded answer cannot pass)."""
    return [0, 1, 7, random.randint(21, 60), 5000]


# --------------------------------------------------------------- exercise 01
@_any_digits
def check_ex01(cluster) -> None:
    """ex01: work/ex01_tasks.py's factorial task, loaded into the workers, computes n! as a string."""
    _require_module(cluster, "ex01", "ex01_tasks")
    name = "ex01_tasks.factorial"
    for n in _fresh_inputs():
        outcome = run_task(cluster, name, {"n": n})
        if outcome["state"] == "PENDING" or outcome["error"].startswith("NotRegistered"):
            _fail("ex01", _not_run_hint(cluster, name, "ex01_tasks"))
        problem = _factorial_problem("ex01", n, outcome, name)
        if problem:
            _fail("ex01", problem)
    _passed("ex01", "factorial(n) ran on the workers and gave n! as a decimal string for 0, 1, 7, a "
                    "random n and 5000 (16,326 digits).")


# --------------------------------------------------------------- exercise 02
@_any_digits
def check_ex02(cluster, start: str = "/ex02/factorial", status: str = "/ex02/status") -> None:
    """ex02: the student's endpoints start the task (202 at once), report state and result, refuse bad input."""
    _require_module(cluster, "ex02", "ex02_routes", kind="routes")
    api = cluster.api_url
    headers = {"Content-Type": "application/json"}

    def post(body, timeout=5.0):
        return requests.post(f"{api}{start}", data=body, headers=headers, timeout=timeout)

    n = random.randint(25, 60)
    try:
        answer = post(f'{{"n": {n}}}')
    except requests.RequestException as exc:
        _fail("ex02", f"POST {start} did not answer: {exc}")
    if answer.status_code == 404:
        _fail("ex02", f"expected POST {start} to exist, found 404: is the route on your blueprint "
                      f"(@bp.post('{start}')) and did cluster.add_routes load it?")
    if answer.status_code >= 500:
        log = cluster.logs("api", tail=30)
        if "NotImplementedError" in log:
            _fail("ex02", f"POST {start} still raises NotImplementedError: replace the stub with your code.")
        _fail("ex02", f"expected 202 from POST {start}, found {answer.status_code}: your endpoint raised "
                      f"{_student_error(cluster, log)}")
    body = _json(answer)
    if answer.status_code == 200 and "task_id" not in body:
        _fail("ex02", f"expected 202 with a task id, found 200 with {str(body)[:80]}: does the endpoint wait "
                      "for the result (.get())? Send the task and answer at once.")
    if answer.status_code != 202 or "task_id" not in body:
        _fail("ex02", f"expected 202 with a task_id, found {answer.status_code} {str(body)[:80]}")
    task_id = body["task_id"]

    deadline = time.monotonic() + TASK_TIMEOUT
    while True:
        got = requests.get(f"{api}{status}/{task_id}", timeout=5)
        state = _json(got).get("state")
        if got.status_code != 200:
            _fail("ex02", f"expected GET {status}/<id> to answer 200 for an id your POST gave, "
                          f"found {got.status_code} {got.text[:80]}")
        if state in ("SUCCESS", "FAILURE") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    result = _json(got).get("result")
    value = result.get("value") if isinstance(result, dict) else result
    if state == "FAILURE" and unregistered(cluster, "ex02_tasks.factorial"):
        _fail("ex02", "the task failed with NotRegistered: the workers do not know ex02_tasks.factorial. "
                      "Run cluster.add_tasks('work/ex02_tasks.py') again (after a restart, the workers "
                      "start without it).")
    if state != "SUCCESS" or str(value) != str(math.factorial(n)):
        error = _json(got).get("error")
        _fail("ex02", f"expected state SUCCESS and the value of {n}! from GET {status}/<id>, "
                      f"found state {state!r}" + (f" ({error})" if error else f" and result {str(result)[:80]}"))

    unknown = requests.get(f"{api}{status}/{uuid.uuid4()}", timeout=5)
    if unknown.status_code != 404:
        said = _json(unknown).get("state")
        _fail("ex02", f"expected 404 for an id your API never issued, found {unknown.status_code}"
                      f"{f' with state {said!r}' if said else ''}. Celery says PENDING for any id it has never seen; keep "
                      "a record of the ids you issue (a Redis key per id) and answer 404 for the others.")

    for bad in ('{"n": -1}', '{"n": "20"}', '{"n": true}', '{"n": 2.5}', "{}", '{"n": 20, "x": 1}', "not json"):
        got = post(bad)
        if got.status_code != 400:
            _fail("ex02", f"expected 400 with an error message for the body {bad}, found {got.status_code}"
                          + (" (a crash: validate before you send the task)" if got.status_code >= 500 else
                             " (the task was queued anyway)" if got.status_code == 202 else ""))

    workers = len(cluster.workers)
    cluster.scale(0)
    try:
        started = time.monotonic()
        got = post('{"n": 10}', timeout=4)
        waited = time.monotonic() - started
    except requests.Timeout:
        _fail("ex02", f"with no worker running, POST {start} did not answer within 4 s: it waits for the "
                      "result (.get()), which blocks the web server. Answer 202 with the id at once.")
    finally:
        cluster.scale(workers)
    if got.status_code != 202:
        _fail("ex02", f"with no worker running, expected POST {start} to answer 202 at once, "
                      f"found {got.status_code} after {waited:.1f} s")
    _passed("ex02", f"POST {start} answered 202 at once (even with no worker), GET {status}/<id> gave "
                    "SUCCESS with the right value, an unknown id got 404, and 7 bad bodies got 400.")


def _student_error(cluster, log: str) -> str:
    """The last error of an API log, with the student's file named as they know it."""
    lines = [line for line in log.splitlines() if line.strip()]
    student = str(cluster.dir / "student") + "/"
    where = [line.strip().replace(student, "work/") for line in lines if student in line]
    last = lines[-1].strip() if lines else "an error"
    return f"{last}" + (f" ({where[-1]})" if where else "")


def _json(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# --------------------------------------------------------------- exercise 03
def check_ex03(throughput: dict, plateau_workers, cores: int) -> None:
    """ex03: throughput measured at 1, 2, 4 workers, and the plateau named and explained by the cores."""
    if isinstance(throughput, dict) and not throughput:
        _fail("ex03", "expected throughput measured at 1, 2 and 4 workers, found none: did the measuring "
                      "cell finish? (measure() may still raise NotImplementedError)")
    if not isinstance(throughput, dict) or not {1, 2, 4} <= set(throughput):
        _fail("ex03", f"expected throughput measured at 1, 2 and 4 workers, found keys "
                      f"{sorted(throughput) if isinstance(throughput, dict) else type(throughput).__name__}")
    if not all(isinstance(v, (int, float)) and v > 0 for v in throughput.values()):
        _fail("ex03", f"expected positive tasks-per-second figures, found {throughput}")
    for workers in (2, 4):
        if throughput[workers] > 1.3 * workers * throughput[1]:
            _fail("ex03", f"{workers} workers measured {throughput[workers] / throughput[1]:.1f}× one worker, "
                          f"which more workers cannot give: does measure() wait for every result before it "
                          "stops the clock?")
    from .lesson import plateau

    points = [{"workers": n, "throughput": throughput[n]} for n in sorted(throughput)]
    measured = plateau(points)
    if plateau_workers is ... or plateau_workers is None:
        _fail("ex03", "expected your answer in plateau_workers (a number of workers), found nothing yet")
    if measured is None:
        if plateau_workers not in (4, None):
            _fail("ex03", f"your numbers kept growing up to 4 workers (only 4 reached 90% of the best), so "
                          f"expected plateau_workers = 4, found {plateau_workers}")
    elif plateau_workers != measured:
        top = max(throughput.values())
        _fail("ex03", f"your measurements stop growing at {measured} workers (the fewest that reached 90% of "
                      f"your best, {top:.1f} tasks/s), found plateau_workers = {plateau_workers} "
                      f"({throughput[plateau_workers] / top:.0%} of the best)" if plateau_workers in throughput
                      else f"your measurements stop growing at {measured} workers, found plateau_workers = "
                           f"{plateau_workers}, which is not one of the counts you measured")
    # the same words on every machine (the notebook's committed output is compared); the numbers
    # and the cores are in the student's own table above
    _passed("ex03", "plateau_workers matches where your own measurements stopped growing.")


# --------------------------------------------------------------- exercise 04
@_any_digits
def check_ex04(split, factorial_in_parts) -> None:
    """ex04: split() covers 1..n exactly, and the chord of partial products gives n!."""
    for n, parts in ((10, 3), (7, 7), (3, 5), (0, 2), (random.randint(100, 999), 4)):
        try:
            ranges = [tuple(r) for r in split(n, parts)]
        except NotImplementedError:
            _fail("ex04", "split(n, parts) still raises NotImplementedError: replace the stub with your code.")
        covered = [i for lo, hi in ranges for i in range(lo, hi)]
        if sorted(covered) != list(range(1, n + 1)):
            missing = sorted(set(range(1, n + 1)) - set(covered))
            doubled = sorted({i for i in covered if covered.count(i) > 1})
            _fail("ex04", f"expected split({n}, {parts}) to cover 1..{n} once, found {ranges}"
                          + (f": {missing[:5]} missing" if missing else "")
                          + (f": {doubled[:5]} twice" if doubled else "")
                          + ". range(lo, hi) stops before hi: off by one?")
        if len(ranges) > parts:
            _fail("ex04", f"expected at most {parts} ranges from split({n}, {parts}), found {len(ranges)}")
    n = random.randint(1500, 3000)
    try:
        result = factorial_in_parts(n, 4)
    except NotImplementedError:
        _fail("ex04", "factorial_in_parts still raises NotImplementedError: replace the stub with your code.")
    if not hasattr(result, "get"):
        _fail("ex04", f"expected factorial_in_parts to return the chord's AsyncResult, found "
                      f"{type(result).__name__}: return chord(header)(body) without .get()")
    try:
        value = result.get(timeout=TASK_TIMEOUT)
    except Exception as exc:  # noqa: BLE001  (the student's tasks may raise anything)
        _fail("ex04", f"the chord for n={n} failed: {type(exc).__name__}: {exc}")
    value = value.get("value") if isinstance(value, dict) else value
    if str(value) != str(math.factorial(n)):
        _fail("ex04", f"expected the chord to give {n}! = {_short(str(math.factorial(n)))}, "
                      f"found {_short(str(value))}")
    _passed("ex04", "split() covered 1..n exactly in 5 cases, and a chord of 4 partial products gave n! "
                    "for a random n.")


# --------------------------------------------------------------- exercise 05
def check_ex05(cluster, route, crunches: int = 8) -> None:
    """ex05: CPU and I/O tasks go to separate queues with dedicated workers, so I/O stays fast."""
    try:
        queues = {name: route(name) for name in ("ex05_tasks.crunch", "ex05_tasks.fetch")}
    except NotImplementedError:
        _fail("ex05", "route() still raises NotImplementedError: replace the stub with your code.")
    if queues["ex05_tasks.crunch"] == queues["ex05_tasks.fetch"]:
        _fail("ex05", f"expected crunch and fetch on two different queues, found both on {queues['ex05_tasks.fetch']!r}")
    active = cluster.celery.control.inspect(timeout=1.0, limit=len(cluster.workers)).active_queues() or {}
    serving = {queue: sorted(node for node, listed in active.items() if queue in {q["name"] for q in listed})
               for queue in queues.values()}
    for queue, nodes in serving.items():
        if not nodes:
            _fail("ex05", f"expected a worker consuming from the {queue!r} queue, found none: tasks sent there "
                          "would wait forever. Use control.add_consumer(queue, destination=[...]).")
    shared = set(serving[queues["ex05_tasks.crunch"]]) & set(serving[queues["ex05_tasks.fetch"]])
    if shared:
        _fail("ex05", f"expected dedicated workers, found {', '.join(shared)} consuming from both queues: a "
                      "crunch task there still delays a fetch. cancel_consumer the other queue on it.")
    app = cluster.celery
    busy = [app.send_task("ex05_tasks.crunch", kwargs={"ms": 300}, queue=queues["ex05_tasks.crunch"])
            for _ in range(crunches)]
    time.sleep(0.2)
    sent = time.monotonic()
    quick = app.send_task("ex05_tasks.fetch", kwargs={"ms": 50}, queue=queues["ex05_tasks.fetch"])
    try:
        fetched = quick.get(timeout=TASK_TIMEOUT)
    except Exception as exc:  # noqa: BLE001
        _fail("ex05", f"the fetch task did not finish: {type(exc).__name__}: {exc}")
    waited = time.monotonic() - sent
    done = [r.get(timeout=60) for r in busy]
    if fetched["worker"] not in serving[queues["ex05_tasks.fetch"]]:
        _fail("ex05", f"expected the fetch task on an I/O worker, found it on {fetched['worker']}")
    backlog = crunches * 0.3 / max(1, len(serving[queues["ex05_tasks.crunch"]]))
    if waited > backlog / 2:
        _fail("ex05", f"expected the fetch task to finish long before the {backlog:.1f} s of queued crunching, "
                      f"found it took {waited:.2f} s: did it wait behind the CPU tasks?")
    _passed("ex05", f"with {len(done)} CPU tasks queued, an I/O task still finished in {waited * 1000:.0f} ms "
                    f"on its own worker.")


# --------------------------------------------------------------- exercise 06
def check_ex06(cluster, item: str | None = None, seconds: float = 3.0) -> None:
    """ex06: the record task appends its item once, even when its worker is killed mid-task."""
    store = cluster.redis
    item = item or f"item-{uuid.uuid4().hex[:8]}"
    result = cluster.celery.send_task("ex06_tasks.record", kwargs={"item": item, "seconds": seconds})
    deadline = time.monotonic() + TASK_TIMEOUT
    while result.state not in ("STARTED", "SUCCESS", "FAILURE") and time.monotonic() < deadline:
        time.sleep(0.05)
    if result.state == "FAILURE":
        error = f"{type(result.result).__name__}: {result.result}"
        if "NotImplementedError" in error:
            _fail("ex06", "record() still raises NotImplementedError: replace the stub with your code.")
        _fail("ex06", f"record() failed: {error}")
    if result.state != "STARTED":
        _fail("ex06", f"expected record() to start within {TASK_TIMEOUT:g} s, found {result.state}: "
                      "did cluster.add_tasks('work/ex06_tasks.py') succeed?")
    time.sleep(0.5)  # it appended by now, and sleeps
    worker = result.info.get("hostname", "").split("@")[0]
    if worker not in cluster.workers:
        _fail("ex06", f"could not find the worker running the task ({result.info})")
    cluster.kill_worker(worker)
    cluster.scale(len(cluster.workers) + 1)  # a replacement, so the redelivered task has somewhere to go
    wait = cluster.settings.visibility_timeout + seconds + 15
    try:
        result.get(timeout=wait)
    except Exception as exc:  # noqa: BLE001
        _fail("ex06", f"after the crash the task did not end well within {wait:g} s: {type(exc).__name__}: {exc}")
    count = store.lrange("ex06:log", 0, -1).count(item)
    if count == 0:
        _fail("ex06", f"expected {item!r} once in the list ex06:log, found it never: does record() append it?")
    if count > 1:
        _fail("ex06", f"expected {item!r} once in ex06:log, found it {count} times: the task ran again after "
                      "its worker died (at-least-once delivery) and appended again. Mark the effect as done "
                      "under the task's id (self.request.id) with SET NX, and append only if you set it.")
    _passed("ex06", "the worker running record(...) was killed mid-task; the task ran again and its item is "
                    "in ex06:log exactly once.")
