"""The exercises' checks: run the student's work on the real cluster and say precisely what is wrong.

Each ``check_exNN`` raises ``CheckFailed`` with "expected X, found Y" in the
exercise's words (IPython shows that line, not a traceback into the lab), or
prints what passed. Every sentence goes through ``labapp.i18n`` (English, or
Brazilian Portuguese with LABAPP_LANG=pt_BR), so no verdict may depend on a
message's words: a check reads the student's exception by its type.
"""

from __future__ import annotations

import functools
import math
import random
import sys
import time
import uuid
from pathlib import Path

import requests

from labapp.i18n import _, ngettext

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
    global _last_passed
    _last_passed = text
    print(_("\u2713 {exercise} passed: {text}").format(exercise=exercise, text=text))


_last_passed = ""  # the message of the last check that passed, for the class's progress


def _reported(check):
    """Run a check, then send its outcome to the class this machine joined (labapp.progress: nothing outside one)."""
    exercise = check.__name__.removeprefix("check_")

    @functools.wraps(check)
    def run(*args, **kwargs):
        from labapp import progress

        global _last_passed
        _last_passed = ""  # a check that passes says why in _passed(); never the previous check's words
        try:
            outcome = check(*args, **kwargs)
        except CheckFailed as failed:
            progress.report(exercise, False, str(failed).removeprefix(f"{exercise}: "))
            raise
        progress.report(exercise, True, _last_passed)
        return outcome

    return run


# ------------------------------------------------------------------ helpers
def _wait_quietly(predicate, timeout: float) -> None:
    """Poll predicate until it holds or timeout passes; the caller reads what state things are in."""
    from labapp.engine import processes

    try:
        processes.wait_until(predicate, timeout)
    except processes.WaitTimeout:
        pass


def run_task(cluster, name: str, kwargs: dict, timeout: float = TASK_TIMEOUT) -> dict:
    """Send a task by name and wait for it: {"state", "result", "traceback"}; PENDING after timeout."""
    result = cluster.celery.send_task(name, kwargs=kwargs)
    _wait_quietly(lambda: result.ready(), timeout)
    state = result.state
    error = f"{type(result.result).__name__}: {result.result}" if state == "FAILURE" else ""
    return {
        "state": state,
        "result": result.result if state == "SUCCESS" else None,
        "error": error,
        "traceback": result.traceback or error,
        "id": result.id,
    }


def unregistered(cluster, name: str) -> bool:
    """True if a worker's log says it received a task of this name it does not know."""
    needle = f"Received unregistered task of type '{name}'"
    return any(needle in cluster.logs(worker, tail=400) for worker in list(cluster.workers))


def _not_run_hint(cluster, name: str, module: str) -> str:
    if unregistered(cluster, name):
        return _(
            "the workers received {name} but do not know it (NotRegistered; 'Received unregistered task' in their "
            "logs). Workers only run code they import: put the task in work/{module}.py and load it "
            "with cluster.add_tasks('work/{module}.py'). A task defined in the notebook exists only "
            "in the notebook's process."
        ).format(name=name, module=module)
    return _(
        "no worker ran {name} within {timeout:g} s. Is a worker running (cluster.status())? "
        "Did cluster.add_tasks('work/{module}.py') succeed?"
    ).format(name=name, timeout=TASK_TIMEOUT, module=module)


def _failure_text(trace: str) -> str:
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else _("an error without a message")


def _require_module(cluster, exercise: str, module: str, kind: str = "tasks") -> None:
    """Fail unless work/<module>.py is loaded into the cluster, and loaded as it is on disk now."""
    loaded = cluster.student_tasks if kind == "tasks" else cluster.student_routes
    call = "add_tasks" if kind == "tasks" else "add_routes"
    if module not in loaded:
        found = (
            _("expected work/{module}.py loaded with cluster.{call}('work/{module}.py'), found nothing loaded.")
            if not loaded
            else _("expected work/{module}.py loaded with cluster.{call}('work/{module}.py'), found only {loaded}.")
        )
        why = _why_not_loaded(module, kind)
        _fail(
            exercise,
            " ".join(
                part
                for part in (
                    found.format(module=module, call=call, loaded=", ".join(sorted(loaded))),
                    why,
                    _("The cluster runs only code it was given that way."),
                )
                if part
            ),
        )
    source = Path(getattr(cluster, "_sources", {}).get(module, f"work/{module}.py"))
    try:
        stale = source.read_bytes() != Path(loaded[module]).read_bytes()
    except OSError:
        stale = False
    if stale:
        _fail(
            exercise,
            _(
                "{source} changed since cluster.{call} loaded it: the cluster still runs the version it "
                "loaded. Run the cluster.{call}('{source}') cell again after every edit of the file."
            ).format(source=source, call=call),
        )


def _why_not_loaded(module: str, kind: str) -> str:
    """Why work/<module>.py is not loaded, as cluster.add_tasks/add_routes would say ('' if it would load)."""
    from labapp.engine import student_code

    path = Path("work") / f"{module}.py"
    if not path.exists():
        missing = (
            _(
                "There is no file {path}: a task defined in a notebook cell exists only in the notebook's "
                "process, never in the cluster's. Start the cell with %%writefile {path} to write it to the file."
            )
            if kind == "tasks"
            else _(
                "There is no file {path}: a blueprint defined in a notebook cell exists only in the notebook's "
                "process, never in the cluster's. Start the cell with %%writefile {path} to write it to the file."
            )
        )
        return missing.format(path=path)
    check = student_code.check_tasks if kind == "tasks" else student_code.check_routes
    try:
        check(path)
    except student_code.StudentCodeError as exc:
        return _("Loading it fails: {error}").format(error=exc)
    return ""


def _factorial_problem(exercise: str, n: int, outcome: dict, name: str) -> str | None:
    """What is wrong with one factorial result, in the exercise's words (None if it is right)."""
    if outcome["state"] == "FAILURE":
        trace = outcome["traceback"]
        if outcome["error"].startswith("NotRegistered"):
            return None  # the caller explains it: the workers never imported the module
        if "NotImplementedError" in trace:
            return _("{name}(n={n}) still raises NotImplementedError: replace the stub with your code.").format(
                name=name, n=n
            )
        if "Exceeds the limit" in trace or "int_max_str_digits" in trace:
            return _(
                "{name}(n={n}) failed: {error}. {n}! has more than 4300 digits; "
                "Python refuses to turn it into a string unless told to: call "
                "sys.set_int_max_str_digits(0) in the task before str(...)."
            ).format(name=name, n=n, error=_failure_text(trace))
        if "TypeError" in trace and "argument" in trace:
            return _(
                "{name}(n={n}) was called with n={n} and failed: {error}. "
                "Expected a task that takes exactly one argument, n."
            ).format(name=name, n=n, error=_failure_text(trace))
        return _("{name}(n={n}) failed: {error}").format(name=name, n=n, error=_failure_text(trace))
    result = outcome["result"]
    if not isinstance(result, dict) or set(result) != {"n", "digits", "value"}:
        return _("expected {name}(n={n}) to return a dict with keys n, digits and value, found {kind} {found}").format(
            name=name, n=n, kind=type(result).__name__, found=repr(str(result)[:80])
        )
    value = result["value"]
    if isinstance(value, int):
        return _(
            "expected value as a decimal string, found an int. JSON readers turn big numbers into "
            "floats (about 16 exact digits) and Python refuses int->str past 4300 digits: "
            "return str(...) of the product."
        )
    expected = str(math.factorial(n))
    if value != expected:
        for other in (n - 1, n + 1):
            if other >= 0 and value == str(math.factorial(other)):
                return _(
                    "expected {n}! = {expected}, found {found} = {other}!: off by one? "
                    "math.factorial(n) or a product over range(1, n + 1)."
                ).format(n=n, expected=_short(expected), found=_short(value), other=other)
        return _("expected {n}! = {expected}, found {found}").format(
            n=n, expected=_short(expected), found=_short(str(value))
        )
    if result["digits"] != len(expected) or result["n"] != n:
        return _("for n={n} expected n={n} and digits={digits}, found n={found_n} and digits={found_digits}").format(
            n=n, digits=len(expected), found_n=repr(result["n"]), found_digits=repr(result["digits"])
        )
    return None


def _short(text: str) -> str:
    if len(text) <= 24:
        return text
    return _("{head}…{tail} ({count} digits)").format(head=text[:10], tail=text[-10:], count=len(text))


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
    _passed(
        "ex01",
        _(
            "factorial(n) ran on the workers and gave n! as a decimal string for 0, 1, 7, a "
            "random n and 5000 (16,326 digits)."
        ),
    )


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
        _fail("ex02", _("POST {start} did not answer: {error}").format(start=start, error=exc))
    if answer.status_code == 404:
        _fail(
            "ex02",
            _(
                "expected POST {start} to exist, found 404: is the route on your blueprint "
                "(@bp.post('{start}')) and did cluster.add_routes load it?"
            ).format(start=start),
        )
    if answer.status_code >= 500:
        log = cluster.logs("api", tail=30)
        if "NotImplementedError" in log:
            _fail(
                "ex02",
                _("POST {start} still raises NotImplementedError: replace the stub with your code.").format(
                    start=start
                ),
            )
        _fail(
            "ex02",
            _(
                'expected 202 from POST {start} with the body {{"n": {n}}}, found {code}: your endpoint raised {error}'
            ).format(start=start, n=n, code=answer.status_code, error=_student_error(cluster, log)),
        )
    body = _json(answer)
    if answer.status_code == 200 and "task_id" not in body:
        _fail(
            "ex02",
            _(
                "expected 202 with a task id, found 200 with {body}: does the endpoint wait "
                "for the result (.get())? Send the task and answer at once."
            ).format(body=str(body)[:80]),
        )
    if answer.status_code != 202 or "task_id" not in body:
        _fail(
            "ex02",
            _("expected 202 with a task_id, found {code} {body}").format(code=answer.status_code, body=str(body)[:80]),
        )
    task_id = body["task_id"]

    deadline = time.monotonic() + TASK_TIMEOUT
    while True:
        got = requests.get(f"{api}{status}/{task_id}", timeout=5)
        state = _json(got).get("state")
        if got.status_code != 200:
            _fail(
                "ex02",
                _("expected GET {status}/<id> to answer 200 for an id your POST gave, found {code} {text}").format(
                    status=status, code=got.status_code, text=got.text[:80]
                )
                + (". " + _pending_is_not_unknown() if got.status_code == 404 else ""),
            )
        if state in ("SUCCESS", "FAILURE") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    result = _json(got).get("result")
    value = result.get("value") if isinstance(result, dict) else result
    if state == "FAILURE" and unregistered(cluster, "ex02_tasks.factorial"):
        _fail(
            "ex02",
            _(
                "the task failed with NotRegistered: the workers do not know ex02_tasks.factorial. "
                "Run cluster.add_tasks('work/ex02_tasks.py') again (after a restart, the workers "
                "start without it)."
            ),
        )
    if state != "SUCCESS" or str(value) != str(math.factorial(n)):
        error = _json(got).get("error")
        found = (
            _("expected state SUCCESS and the value of {n}! from GET {status}/<id>, found state {state} ({error})")
            if error
            else _(
                "expected state SUCCESS and the value of {n}! from GET {status}/<id>, found state {state} "
                "and result {result}"
            )
        )
        _fail("ex02", found.format(n=n, status=status, state=repr(state), error=error, result=str(result)[:80]))

    unknown = requests.get(f"{api}{status}/{uuid.uuid4()}", timeout=5)
    if unknown.status_code != 404:
        said = _json(unknown).get("state")
        found = (
            _("expected 404 for an id your API never issued, found {code} with state {state}.")
            if said
            else _("expected 404 for an id your API never issued, found {code}.")
        )
        _fail(
            "ex02",
            found.format(code=unknown.status_code, state=repr(said))
            + " "
            + _(
                "Celery says PENDING for any id it has never seen; keep "
                "a record of the ids you issue (a Redis key per id) and answer 404 for the others."
            ),
        )

    for bad, why in _bad_bodies().items():
        got = post(bad)
        if got.status_code != 400:
            if got.status_code >= 500:
                found = _(
                    "expected 400 with an error message for the body {body} ({why}), found {code} "
                    "(a crash: validate before you send the task)"
                )
            elif got.status_code == 202:
                found = _(
                    "expected 400 with an error message for the body {body} ({why}), found {code} "
                    "(the task was queued anyway)"
                )
            else:
                found = _("expected 400 with an error message for the body {body} ({why}), found {code}")
            _fail("ex02", found.format(body=bad, why=why, code=got.status_code))

    workers = len(cluster.workers)
    cluster.scale(0)
    try:
        problem = _queued_problem(api, start, status, post)
    finally:
        cluster.scale(workers)
    if problem:
        _fail("ex02", problem)
    _passed(
        "ex02",
        _(
            "POST {start} answered 202 at once (even with no worker), GET {status}/<id> gave "
            "SUCCESS with the right value, an unknown id got 404, and 7 bad bodies got 400."
        ).format(start=start, status=status),
    )


def _pending_is_not_unknown() -> str:
    """Why 404 must come from the API's own record of ids, never from Celery's state."""
    return _(
        "Celery says PENDING for a queued task and for an unknown id alike: decide 404 by your own "
        "record of the ids you issued, never by the state"
    )


def _bad_bodies() -> dict[str, str]:
    """Each bad body of ex02, and what it tests in the student's words."""
    return {
        '{"n": -1}': _("a negative n"),
        '{"n": "20"}': _("a string, not a number"),
        '{"n": true}': _("true is a bool, and in Python bool is a subclass of int: test isinstance(n, bool) first"),
        '{"n": 2.5}': _("not a whole number"),
        "{}": _("no n at all"),
        '{"n": 20, "x": 1}': _("a field besides n"),
        "not json": _("a body that is not JSON"),
    }


def _queued_problem(api: str, start: str, status: str, post) -> str | None:
    """With no worker running: POST must answer 202 at once, GET must say PENDING for that id (else what is wrong)."""
    started = time.monotonic()
    try:
        got = post('{"n": 10}', timeout=4)
    except requests.Timeout:
        return _(
            "with no worker running, POST {start} did not answer within 4 s: it waits for the "
            "result (.get()), which blocks the web server. Answer 202 with the id at once."
        ).format(start=start)
    except requests.RequestException as exc:
        return _("with no worker running, POST {start} did not answer: {error}").format(start=start, error=exc)
    if got.status_code != 202:
        return _(
            "with no worker running, expected POST {start} to answer 202 at once, found {code} after {seconds:.1f} s"
        ).format(start=start, code=got.status_code, seconds=time.monotonic() - started)
    queued = requests.get(f"{api}{status}/{_json(got).get('task_id')}", timeout=5)
    if queued.status_code != 200 or _json(queued).get("state") != "PENDING":
        return _(
            "with no worker running, expected GET {status}/<id> for the id your POST just gave to answer "
            "200 with state PENDING (queued, no worker has taken it yet), found {code} {text}"
        ).format(status=status, code=queued.status_code, text=queued.text[:80].strip()) + (
            ". " + _pending_is_not_unknown() if queued.status_code == 404 else ""
        )
    return None


def _student_error(cluster, log: str) -> str:
    """The last error of an API log, with the student's file named as they know it."""
    lines = [line for line in log.splitlines() if line.strip()]
    student = str(cluster.dir / "student") + "/"
    where = [line.strip().replace(student, "work/") for line in lines if student in line]
    last = lines[-1].strip() if lines else _("an error")
    return f"{last}" + (f" ({where[-1]})" if where else "")


def _json(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# --------------------------------------------------------------- exercise 03
EX03_TASK = "ex03_tasks.factorial"


def _observe_measure(cluster, measure, workers: int) -> dict:
    """Run the student's measure(workers) and watch it: what it sent and when, and what was done when it returned."""
    from celery.signals import before_task_publish

    sent: list[tuple[str, float]] = []

    def record(sender=None, headers=None, **_ignored):
        if sender == EX03_TASK and headers:
            sent.append((headers["id"], time.time()))

    before_task_publish.connect(record, weak=False)
    error = None
    try:
        rate = measure(workers)
    except NotImplementedError:
        error = _("measure() still raises NotImplementedError: replace the stub with your code.")
    except Exception as exc:  # the student's code may raise anything
        error = _("measure(workers={workers}) raised {error_type}: {error}").format(
            workers=workers, error_type=type(exc).__name__, error=exc
        )
    finally:
        before_task_publish.disconnect(record)
    if error:
        _fail("ex03", error)
    returned = time.time()
    results = [cluster.celery.AsyncResult(task_id) for task_id, _at in sent]
    unfinished = sum(not r.ready() for r in results)  # read at once: what measure() left behind
    running = len(cluster.workers)
    try:
        for r in results:  # now wait, for each task's worker and end time
            r.get(timeout=60, propagate=False)
    except Exception as exc:  # a timeout, or a broker the student's code upset
        _fail(
            "ex03",
            _(
                "the {count} tasks measure(workers={workers}) sent did not all finish within 60 s "
                "({error_type}): is a worker running (cluster.status())?"
            ).format(count=len(results), workers=workers, error_type=type(exc).__name__),
        )
    done = [_epoch(r.date_done) for r in results]
    return {
        "rate": rate,
        "sent": [at for _id, at in sent],
        "done": done,
        "unfinished": unfinished,
        "returned": returned,
        "running": running,
        "ran_on": {r.worker for r in results if r.worker},
    }


def _epoch(moment) -> float:
    """Seconds since the epoch of a result's date_done (an aware or a naive UTC datetime)."""
    from datetime import timezone

    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _batch_problem(seen: dict, workers: int, batch: int | None) -> str | None:
    """What is wrong with one observed run of measure(workers), in the exercise's words (None if it is right)."""
    call, rate, sent, done = f"measure(workers={workers})", seen["rate"], seen["sent"], seen["done"]
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        return _("expected {call} to return tasks per second (a positive number), found {rate}").format(
            call=call, rate=repr(rate)
        )
    if not sent:
        return _("expected {call} to send {task} tasks, found it sent none").format(call=call, task=EX03_TASK)
    if batch is not None and len(sent) != batch:
        return _(
            "expected {call} to send its whole batch, tasks={batch} factorials, found it sent {sent}: "
            "the batch size is the tasks argument, whatever the number of workers"
        ).format(call=call, batch=batch, sent=len(sent))
    if seen["unfinished"]:
        return _(
            "{call} returned while {unfinished} of its {sent} tasks had not finished: it never "
            "waited for the results, so the clock timed the sending only. ready() only asks whether a "
            "task is done; get(timeout=...) waits for it."
        ).format(call=call, unfinished=seen["unfinished"], sent=len(sent))
    if seen["running"] != workers:
        return _(
            "expected {call} to run the batch on {workers} workers, found {running} running: it "
            "never scaled the cluster to the workers it was asked for (cluster.scale(workers) first)"
        ).format(call=call, workers=workers, running=seen["running"])
    in_flight = max(1 + sum(end > start for end in done[:k]) for k, start in enumerate(sent))
    if len(sent) > 1 and in_flight == 1:
        return _(
            "{call} sent each task only after the previous one had finished (a get() right after each "
            "send?): the batch ran one task at a time, so the other workers had nothing to do. Send the "
            "whole batch first, then collect."
        ).format(call=call)
    if workers > 1 and len(sent) > 1 and len(seen["ran_on"]) < 2:
        return _(
            "{call} ran all {sent} tasks on one worker ({worker}) though "
            "{workers} were running: the batch was serialised on a single worker"
        ).format(call=call, sent=len(sent), worker=", ".join(seen["ran_on"]), workers=workers)
    span = max(done) - min(sent)  # from the first send to the last result: what the batch really took
    real = len(sent) / span
    after = seen["returned"] - min(sent)  # from the first send until measure() returned
    if span * 0.95 <= rate <= after + 0.05 and abs(len(sent) / rate - after) > 0.1 * after:
        return _(
            "{call} returned {rate:.2f}, which is how many seconds the batch took ({span:.2f} s); expected "
            "tasks per second: tasks / seconds = {real:.1f}"
        ).format(call=call, rate=rate, span=span, real=real)
    if rate > 1.1 * real:
        return _(
            "{call} reported {rate:.1f} tasks/s, but its {sent} tasks took {span:.2f} s from the first "
            "send to the last result, {real:.1f} tasks/s at most: it stopped the clock before the last "
            "result came back. Stop it after collecting every result."
        ).format(call=call, rate=rate, sent=len(sent), span=span, real=real)
    clocked = len(sent) / rate
    if clocked > after + 0.2 + 0.2 * after:  # the clock started well before the first send
        return _(
            "{call} timed {clocked:.2f} s for a batch that took {span:.2f} s from the first send to the last "
            "result: the clock included something else, such as cluster.scale(). Start it after scaling, "
            "just before sending."
        ).format(call=call, clocked=clocked, span=span)
    return None


def _batch_size(measure) -> int | None:
    """The default of measure's `tasks` argument, if it has one."""
    import inspect

    try:
        default = inspect.signature(measure).parameters["tasks"].default
    except (KeyError, TypeError, ValueError):
        return None
    return default if isinstance(default, int) and default > 0 else None


def _table_shape_problem(throughput) -> str | None:
    """What is missing in the student's table of tasks per second by workers (None if it is complete)."""
    if isinstance(throughput, dict) and not throughput:
        return _("expected throughput measured at 1, 2 and 4 workers, found none: did the measuring cell finish?")
    if not isinstance(throughput, dict) or not {1, 2, 4} <= set(throughput):
        found = sorted(throughput) if isinstance(throughput, dict) else type(throughput).__name__
        return _("expected throughput measured at 1, 2 and 4 workers, found keys {found}").format(found=found)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in throughput.values()):
        return _("expected positive tasks-per-second figures, found {found}").format(found=throughput)
    return None


def _table_physics_problem(throughput: dict, cores: int) -> str | None:
    """What is physically impossible in a complete table of tasks per second by workers (None if nothing)."""
    for workers in (2, 4):
        speedup = throughput[workers] / throughput[1]
        if speedup > 1.3 * workers:
            # measure() itself was judged sound just before: the table is stale, or a reading was disturbed
            return _(
                "your table says {workers} workers gave {speedup:.1f}× one worker, which is impossible: "
                "{workers} workers can do at most {workers}× the work of one. Either the table came from an "
                "earlier measure() that did not wait for every result, or something slowed the 1-worker "
                "measurement: run the measuring cell again."
            ).format(workers=workers, speedup=speedup)
        if workers > cores and speedup > 1.3 * cores:
            return ngettext(
                "your table says {workers} workers gave {speedup:.1f}× one worker, which is impossible for "
                "CPU-bound work on {cores} core: {cores} core does at most "
                "{cores}× the work of one. Other programs took CPU time while you measured, so more workers "
                "won a larger share of it: the machine is too busy to judge. Close what you can and run the "
                "measuring cell again.",
                "your table says {workers} workers gave {speedup:.1f}× one worker, which is impossible for "
                "CPU-bound work on {cores} cores: {cores} cores do at most "
                "{cores}× the work of one. Other programs took CPU time while you measured, so more workers "
                "won a larger share of it: the machine is too busy to judge. Close what you can and run the "
                "measuring cell again.",
                cores,
            ).format(workers=workers, speedup=speedup, cores=cores)
    return None


def check_ex03(cluster, measure, throughput: dict, plateau_workers, cores: int) -> None:
    """ex03: measure() times a real parallel batch, the table is physically possible, the plateau is named."""
    cluster.scale(1)  # so that measure(2) must scale up, and its clock shows it if it times the scaling
    problem = _batch_problem(_observe_measure(cluster, measure, 2), 2, _batch_size(measure))
    if problem:
        _fail("ex03", problem)
    judge_ex03_answer(throughput, plateau_workers, cores)


def judge_ex03_answer(throughput: dict, plateau_workers, cores: int) -> None:
    """ex03's verdict on a table of tasks/s by workers and the plateau named from it (after measure() was judged)."""
    from labapp.lesson import plateau

    cores = max(1, int(cores))
    problem = _table_shape_problem(throughput)
    if problem:
        _fail("ex03", problem)
    # the answer's kind is judged before the figures: a noisy table must not hide a wrong kind of answer
    if plateau_workers is ... or plateau_workers is None:
        _fail("ex03", _("expected your answer in plateau_workers (a number of workers), found nothing yet"))
    if plateau_workers not in throughput or isinstance(plateau_workers, bool):
        _fail(
            "ex03",
            _(
                "expected plateau_workers to be one of the worker counts you measured (1, 2 or 4), found "
                "{found}, which is not one of the worker counts: read it off the table's "
                "first column"
            ).format(found=repr(plateau_workers)),
        )
    problem = _table_physics_problem(throughput, cores)
    if problem:
        _fail("ex03", problem)
    measured = plateau([{"workers": n, "throughput": throughput[n]} for n in sorted(throughput)])
    if (measured or 4) // 2 >= cores:  # the count below the plateau already had a core per worker
        note = _load_note(cores)
        _fail(
            "ex03",
            ngettext(
                "your CPU-bound tasks kept scaling past the {cores} core this "
                "notebook may use (up to {workers} workers), which the cores alone cannot give: other "
                "programs took CPU time while you measured, and more workers won a larger share of it. The "
                "machine is too busy to judge: close what you can and run the measuring cell again.",
                "your CPU-bound tasks kept scaling past the {cores} cores this "
                "notebook may use (up to {workers} workers), which the cores alone cannot give: other "
                "programs took CPU time while you measured, and more workers won a larger share of it. The "
                "machine is too busy to judge: close what you can and run the measuring cell again.",
                cores,
            ).format(cores=cores, workers=measured or 4)
            + (f" ({note})" if note else ""),
        )
    top = max(throughput.values())
    if measured is None and plateau_workers != 4:
        _fail(
            "ex03",
            _(
                "your numbers kept growing up to 4 workers (only 4 reached 90% of the best), so "
                "expected plateau_workers = 4, found {found}"
            ).format(found=repr(plateau_workers)),
        )
    if measured is not None and plateau_workers != measured:
        _fail(
            "ex03",
            _(
                "your measurements stop growing at {measured} workers (the fewest that reached 90% of "
                "your best, {top:.1f} tasks/s), found plateau_workers = {found} "
                "({share:.0%} of the best)"
            ).format(measured=measured, top=top, found=plateau_workers, share=throughput[plateau_workers] / top),
        )
    # the same words on every machine (the notebook's committed output is compared); the numbers
    # and the cores are in the student's own table above
    _passed(
        "ex03",
        _(
            "measure() sent the whole batch before collecting, ran it on the workers it was asked for "
            "and waited for every result; plateau_workers matches where your measurements stopped "
            "growing, within what the cores allow."
        ),
    )


def _load_note(cores: int) -> str:
    """The system's load over the last minute, in words, when it exceeds the cores ('' otherwise)."""
    import os

    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return ""
    if load <= cores:
        return ""
    return ngettext(
        "{load:.1f} processes waited for the CPU on average over the last minute, for {cores} core",
        "{load:.1f} processes waited for the CPU on average over the last minute, for {cores} cores",
        cores,
    ).format(load=load, cores=cores)


# --------------------------------------------------------------- exercise 04
def _student_call(exercise: str, call_text: str, function, *args):
    """Call the student's function; any error becomes a ✗ line naming the call and its input."""
    try:
        return function(*args)
    except CheckFailed:
        raise
    except NotImplementedError:
        _fail(
            exercise,
            _("{call} still raises NotImplementedError: replace the stub with your code.").format(call=call_text),
        )
    except Exception as exc:  # the student's code may raise anything
        _fail(
            exercise,
            _("{call} raised {error_type}: {error}").format(call=call_text, error_type=type(exc).__name__, error=exc),
        )


SPLIT_CASES = ((10, 3), (10, 4), (7, 7), (3, 5), (0, 2))


class _DroppedRemainder(str):
    """A split() problem that is the dropped remainder (check_ex04 names it only when every wrong case is one)."""


def _split_problem(n: int, parts: int, ranges) -> str | None:
    """What is wrong with split(n, parts)'s answer, in the exercise's words (None if it is right)."""
    try:
        pairs = [(int(lo), int(hi)) for lo, hi in ranges]
    except (TypeError, ValueError):
        return _("expected split({n}, {parts}) to return a list of (lo, hi) pairs, found {found}").format(
            n=n, parts=parts, found=str(ranges)[:80]
        )
    covered = [i for lo, hi in pairs for i in range(lo, hi)]
    if sorted(covered) == list(range(1, n + 1)):
        if len(pairs) > parts:
            return _(
                "expected at most {parts} ranges from split({n}, {parts}), found {count}: {pairs}. A step "
                "of n // parts leaves the remainder (n % parts) as one range too many: give the "
                "remainder to the last range instead."
            ).format(n=n, parts=parts, count=len(pairs), pairs=pairs)
        return None
    missing = sorted(set(range(1, n + 1)) - set(covered))
    outside = sorted({i for i in covered if not 1 <= i <= n})
    doubled = sorted({i for i in covered if covered.count(i) > 1 and 1 <= i <= n})
    found = ": ".join(
        [_("expected split({n}, {parts}) to cover 1..{n} once, found {pairs}").format(n=n, parts=parts, pairs=pairs)]
        + ([_("{numbers} missing").format(numbers=missing[:5])] if missing else [])
        + ([_("{numbers} twice").format(numbers=doubled[:5])] if doubled else [])
        + ([_("{numbers} outside 1..{n}").format(numbers=outside[:5], n=n)] if outside else [])
    )
    remainder = n % parts
    if missing == list(range(n - remainder + 1, n + 1)) and remainder and not outside and not doubled:
        return _DroppedRemainder(
            found
            + ". "
            + _(
                "Pieces of n // parts = {size} numbers each drop the remainder (n % parts = "
                "{remainder}) when n is not a multiple of parts: let the last range end at n + 1."
            ).format(size=n // parts, remainder=remainder)
        )
    if any(i > n for i in outside) and not missing and not any(i < 1 for i in outside):
        return (
            found
            + ". "
            + _(
                "The last range runs past n: the product would include numbers beyond n. Stop it at "
                "n + 1 (min(hi, n + 1))."
            )
        )
    return found + ". " + _("range(lo, hi) stops before hi, and n! starts at 1: off by one?")


def _not_a_chord(result, n: int) -> str | None:
    """Why factorial_in_parts' answer is not a started chord's AsyncResult (None if it is one)."""
    from celery.canvas import Signature, _chord
    from celery.canvas import group as _group
    from celery.result import AsyncResult, GroupResult

    call = f"factorial_in_parts({n}, 4)"
    if isinstance(result, _chord):
        return _(
            "expected {call} to return the chord's AsyncResult, found the chord itself, a Signature (a "
            "description of the work, never sent: no worker ran anything). Call it with the body to send "
            "it: chord(header)(body) returns the AsyncResult."
        ).format(call=call)
    if isinstance(result, _group):
        return _(
            "expected {call} to return the chord's AsyncResult, found a group Signature: never sent, and "
            "with no combine step. A chord is the group plus its callback: chord(header)(body)."
        ).format(call=call)
    if isinstance(result, Signature):
        return _(
            "expected {call} to return the chord's AsyncResult, found a Signature of {task}: a "
            "description, never sent. Send the chord: chord(header)(body)."
        ).format(call=call, task=result.task)
    if isinstance(result, GroupResult) or (
        isinstance(result, (list, tuple)) and result and all(isinstance(r, AsyncResult) for r in result)
    ):
        return _(
            "expected {call} to return the chord's AsyncResult, found the results of a group with no "
            "callback: the parts ran, but nothing combines them into n!. The combine step is missing: "
            "chord(header)(combine's signature) runs it when the last part is done."
        ).format(call=call)
    if isinstance(result, AsyncResult):
        return None
    if isinstance(result, dict) and "value" in result or isinstance(result, (int, str)):
        return _(
            "expected {call} to return the chord's AsyncResult, found the value itself "
            "({kind}): it waited for the result (.get()). Return chord(header)(body) "
            "without .get(); whoever needs the value waits."
        ).format(call=call, kind=type(result).__name__)
    return _(
        "expected {call} to return the chord's AsyncResult, found {kind} {found}: return chord(header)(body)"
    ).format(call=call, kind=type(result).__name__, found=repr(str(result)[:60]))


def _chord_shape_problem(result, n: int, parts: int) -> str | None:
    """Whether the finished result came from a chord: a group of products feeding one combine."""
    from celery.result import GroupResult

    if result.name != "ex04_tasks.combine":
        return _(
            "expected the chord's result to be the combine step's, found a result of {name}: the "
            "body of the chord is ex04_tasks.combine, the group of products its header."
        ).format(name=result.name)
    header = result.parent
    if not isinstance(header, GroupResult):
        return _(
            "expected the combine step to come out of a chord, found combine sent on its own, with no group "
            "before it: did factorial_in_parts wait for the parts (.get()) and then send combine? The notebook "
            "then waits in the middle; a chord sends combine by itself when the last part is done."
        )
    names = {child.name for child in header.results}
    if names != {"ex04_tasks.product"} or len(header.results) != parts:
        return _(
            "expected a header of {parts} ex04_tasks.product tasks (one per range of split(n, parts)), found "
            "{count} tasks of {names}"
        ).format(parts=parts, count=len(header.results), names=", ".join(sorted(map(str, names))))
    fed = list(result.args or ())[:1]
    if fed != [[child.result for child in header.results]]:
        return _(
            "expected combine to receive the header's results as its first argument, found other arguments: "
            "give combine's signature only n (kwargs={'n': n}); the chord puts the parts first."
        )
    return None


def _value_problem(value, n: int) -> str | None:
    """What is wrong with the chord's value for n! (None if it is right)."""
    expected = math.factorial(n)
    text = str(value.get("value") if isinstance(value, dict) else value)
    if text == str(expected):
        return None
    if text.isdigit() and int(text) and expected % int(text) == 0:
        return _(
            "expected the chord to give {n}! = {expected}, found {found}, which divides "
            "{n}!: some of the numbers 1..{n} never made it into a product. Give product(lo, hi) exactly "
            "the ranges split(n, parts) returned."
        ).format(n=n, expected=_short(str(expected)), found=_short(text))
    return _("expected the chord to give {n}! = {expected}, found {found}").format(
        n=n, expected=_short(str(expected)), found=_short(text)
    )


@_any_digits
def check_ex04(split, factorial_in_parts) -> None:
    """ex04: split() covers 1..n exactly, and a chord (a group of products feeding one combine) gives n!."""
    cases = SPLIT_CASES + ((random.randint(100, 999), 4),)
    problems = []
    for n, parts in cases:
        try:
            ranges = _student_call("ex04", f"split({n}, {parts})", split, n, parts)
        except CheckFailed as failed:
            if problems:
                break  # the earlier wrong answer says more than the crash it led to
            crash = failed.__context__  # the student's exception, read by its type: the message is translated
            zero = isinstance(crash, ZeroDivisionError) or (
                isinstance(crash, ValueError) and "must not be zero" in str(crash)
            )
            if not zero:
                raise
            raise CheckFailed(  # noqa: B904  (the student's crash, told in the check's words, replaces it)
                f"{failed}. "
                + _(
                    "With parts > n, n // parts is 0: a step of 0 (or a division by it) "
                    "fails; more parts than numbers leaves some ranges empty."
                )
            )
        problem = _split_problem(n, parts, ranges)
        if problem:
            problems.append(problem)
    if problems:  # the first case that went wrong; all of them decided which mistake it is
        remainder = [p for p in problems if isinstance(p, _DroppedRemainder)]
        _fail(
            "ex04",
            remainder[0]
            if remainder and len(remainder) == len(problems)
            else next((p for p in problems if not isinstance(p, _DroppedRemainder)), problems[0]),
        )
    n, parts = random.randint(1500, 3000), 4
    result = _student_call("ex04", f"factorial_in_parts({n}, {parts})", factorial_in_parts, n, parts)
    problem = _not_a_chord(result, n)
    if problem:
        _fail("ex04", problem)
    try:
        value = result.get(timeout=TASK_TIMEOUT)
    except Exception as exc:  # the student's tasks may raise anything
        text = f"{type(exc).__name__}: {exc}"
        if "TimeoutError" in text or "timed out" in text.lower():
            _fail(
                "ex04",
                _(
                    "the chord for n={n} did not finish within {timeout:g} s: are the workers running "
                    "(cluster.status()) and did cluster.add_tasks('work/ex04_tasks.py') succeed?"
                ).format(n=n, timeout=TASK_TIMEOUT),
            )
        if "missing 1 required positional argument: 'parts'" in text:
            _fail(
                "ex04",
                _(
                    "the chord for n={n} failed: {error}. combine got no parts: an immutable signature "
                    "(.si(...) or immutable=True) does not receive the header's results. Use a plain "
                    "signature for the body."
                ).format(n=n, error=text),
            )
        _fail("ex04", _("the chord for n={n} failed: {error}").format(n=n, error=text))
    problem = _chord_shape_problem(result, n, len(split(n, parts))) or _value_problem(value, n)
    if problem:
        _fail("ex04", problem)
    _passed(
        "ex04",
        _(
            "split() covered 1..n exactly in 6 cases, and a chord (a group of 4 partial products feeding "
            "one combine) gave n! for a random n."
        ),
    )


# --------------------------------------------------------------- exercise 05
EX05_QUEUES = {"ex05_tasks.crunch": "cpu", "ex05_tasks.fetch": "io"}
EX05_ROLES = {"w1": {"io"}, "w2": {"cpu"}, "w3": {"cpu"}}


def _route_error_hint(error: BaseException | None, name: str) -> str:
    """A word on the foreseen reasons route(name) raised (empty when it is none of them)."""
    if isinstance(error, KeyError) and str(error).startswith(repr(name)):
        return _(
            "Celery names a task by module and function, {name}: a table keyed on {short} has no such key."
        ).format(name=repr(name), short=repr(name.split(".")[-1]))
    if isinstance(error, TypeError) and "positional argument" in str(error):
        return _(
            "Here route() takes one argument, the task's name (Celery's own router functions take "
            "(name, args, kwargs, options, ...), this one does not)."
        )
    return ""


def _ex05_routes(route) -> dict:
    """The queue route() gives each task, checked to be the exercise's names; ✗ naming the mistake otherwise."""
    queues = {}
    for name in EX05_QUEUES:
        try:
            queue = _student_call("ex05", f"route({name!r})", route, name)
        except CheckFailed as failed:
            hint = _route_error_hint(failed.__context__, name)  # what route() raised, by its type
            raise CheckFailed(f"{failed}. {hint}" if hint else str(failed)) from None
        if isinstance(queue, dict) and "queue" in queue:
            _fail(
                "ex05",
                _(
                    "expected route({name}) to return a queue name, found {found}: that is the form of "
                    "Celery's task_routes setting; here route() returns the name itself, e.g. 'cpu'."
                ).format(name=repr(name), found=repr(queue)),
            )
        if not isinstance(queue, str) or not queue:
            _fail(
                "ex05",
                _("expected route({name}) to return a queue name (a str), found {kind} {found}").format(
                    name=repr(name), kind=type(queue).__name__, found=repr(queue)
                ),
            )
        queues[name] = queue
    crunch, fetch = queues["ex05_tasks.crunch"], queues["ex05_tasks.fetch"]
    if crunch == fetch:
        short = {}
        for name in ("crunch", "fetch"):
            try:
                short[name] = route(name)
            except Exception:  # only a probe of what the route is keyed on
                short[name] = None
        if short["crunch"] == "cpu" and short["fetch"] == "io":
            _fail(
                "ex05",
                _(
                    "expected crunch and fetch on two different queues, found both on {queue}: your "
                    "route() knows the short names 'crunch' and 'fetch', but Celery names a task by module "
                    "and function, 'ex05_tasks.crunch', so neither name matched."
                ).format(queue=repr(crunch)),
            )
        _fail(
            "ex05",
            _("expected crunch and fetch on two different queues, found both on {queue}").format(queue=repr(crunch)),
        )
    if (crunch, fetch) == ("io", "cpu"):
        _fail(
            "ex05",
            _(
                "expected route('ex05_tasks.crunch') = 'cpu' and route('ex05_tasks.fetch') = 'io', found them "
                "swapped: the CPU task would go to the I/O worker, and the quick task wait behind crunching."
            ),
        )
    if (crunch, fetch) != ("cpu", "io"):
        _fail(
            "ex05",
            _(
                "expected route('ex05_tasks.crunch') = 'cpu' and route('ex05_tasks.fetch') = 'io' (the queues "
                "dedicate() gives workers), found {crunch} and {fetch}"
            ).format(crunch=repr(crunch), fetch=repr(fetch)),
        )
    return queues


def _consumers(cluster, nodes: list[str]) -> dict[str, set[str]]:
    """The queues each worker node consumes from, asked with control.inspect; ✗ if a node never answers."""
    answered = {}
    for wait in (1.0, 3.0, 6.0):  # a busy machine answers late; each worker is asked until it answers
        missing = [node for node in nodes if node not in answered]
        replies = cluster.celery.control.inspect(destination=missing, timeout=wait, limit=len(missing)).active_queues()
        answered.update({node: {q["name"] for q in listed} for node, listed in (replies or {}).items()})
        if all(node in answered for node in nodes):
            return answered
    _fail(
        "ex05",
        _(
            "the machine is too busy to judge: {nodes} did not "
            "say which queues it consumes within 10 s. Run the check again; nothing passed."
        ).format(nodes=", ".join(n for n in nodes if n not in answered)),
    )


def _settled_consumers(cluster, nodes: list[str], timeout: float = 5.0) -> dict[str, set[str]]:
    """The queues each worker consumes once two readings agree: a broadcast without destination (or a late
    reply) reaches a busy worker some moments after dedicate() returned, and must not be judged half-done."""
    found = _consumers(cluster, nodes)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        again = _consumers(cluster, nodes)
        if again == found:
            return found
        found = again
    return found


def _reset_queues(cluster, nodes: list[str]) -> None:
    """Every worker back to the default queue only, whatever earlier runs of dedicate() did."""
    control = cluster.celery.control
    for node, queues in _consumers(cluster, nodes).items():
        for queue in sorted(queues - {"celery"}):
            control.cancel_consumer(queue, destination=[node], reply=True, timeout=3.0)
        if "celery" not in queues:
            control.add_consumer("celery", destination=[node], reply=True, timeout=3.0)
    if any(queues != {"celery"} for queues in _consumers(cluster, nodes).values()):
        _fail(
            "ex05",
            _(
                "the machine is too busy to judge: the workers did not go back to the default queue before "
                "dedicate() was called. Run the check again; nothing passed."
            ),
        )


def _dedicate_calls(control, dedicate) -> list[tuple[str, str, object]]:
    """Run the student's dedicate(), noting each add_consumer/cancel_consumer call (passed on unchanged)."""
    calls = []
    originals = {name: getattr(control, name) for name in ("add_consumer", "cancel_consumer")}

    def noting(name):
        def call(queue, *args, **kwargs):
            calls.append((name, queue, kwargs.get("destination")))
            return originals[name](queue, *args, **kwargs)

        return call

    for name in originals:
        setattr(control, name, noting(name))
    try:
        _student_call("ex05", "dedicate()", dedicate)
    finally:
        for name in originals:
            delattr(control, name)  # the instance attribute goes; the class's method shows again
    return calls


def _dedicate_problem(found: dict[str, set[str]], calls, names: dict[str, str]) -> str | None:
    """What is wrong with the queues dedicate() left each worker on (None if w1 has io only, w2 and w3 cpu only)."""
    nothing = _("nothing")  # outside the f-string: Babel does not see calls inside one
    table = "; ".join(f"{w}: {', '.join(sorted(found[node])) or nothing}" for w, node in names.items())
    bare = sorted({d for _call, _queue, dest in calls for d in (dest or []) if isinstance(d, str) and "@" not in d})
    if bare:
        return _(
            "expected w1 on io only and w2, w3 on cpu only, found {table}: dedicate() named the workers "
            "{bare}, but control commands reach a worker only by its node name, like "
            "{node}; a bare name matches no worker. Use cluster.node_name('w1')."
        ).format(table=table, bare=", ".join(map(repr, bare)), node=repr(names["w1"]))
    everyone = sorted({queue for name, queue, dest in calls if name == "add_consumer" and dest is None})
    for queue in ("io", "cpu"):
        if not any(queue in queues for queues in found.values()):
            never = not any(name == "add_consumer" and q == queue for name, q, _dest in calls)
            return _(
                "expected a worker consuming from the {queue} queue, found none ({table}): tasks sent there "
                "would wait forever."
            ).format(queue=repr(queue), table=table) + (
                " " + _("dedicate() never called control.add_consumer({queue}, ...).").format(queue=repr(queue))
                if never and calls
                else ""
            )
    both = [w for w, node in names.items() if {"io", "cpu"} <= found[node]]
    if both:
        return (
            _(
                "expected dedicated workers, found {workers} consuming from both io and cpu ({table}): a "
                "crunch task there still delays a fetch."
            ).format(workers=", ".join(both), table=table)
            + " "
            + (
                _(
                    "add_consumer({queue}) had no destination, and a control command without one goes to every worker."
                ).format(queue=repr(everyone[0]))
                if everyone
                else _("cancel_consumer the other queue on it.")
            )
        )
    default = [w for w, node in names.items() if "celery" in found[node]]
    if default:
        return _(
            "expected w1 on io only and w2, w3 on cpu only, found {table}: {workers} still "
            "consume from the default queue 'celery', so any task sent without a route lands there too, "
            "a crunch on the I/O worker included. Call control.cancel_consumer('celery', destination=[...])."
        ).format(table=table, workers=", ".join(default))
    wrong = [w for w, node in names.items() if found[node] != EX05_ROLES[w]]
    if wrong:
        return _("expected w1 on io only and w2, w3 on cpu only, found {table}").format(table=table)
    return None


def check_ex05(cluster, route, dedicate, crunches: int = 8) -> None:
    """ex05: route() sends crunch to cpu and fetch to io; dedicate() gives io to w1 only, cpu to w2 and w3 only."""
    queues = _ex05_routes(route)
    if sorted(cluster.workers) != sorted(EX05_ROLES):
        _fail(
            "ex05",
            _(
                "expected the exercise's 3 workers w1, w2, w3, found {found}: "
                "run the start cell again (Cluster(workers=3, name='ex05').start())."
            ).format(found=", ".join(sorted(cluster.workers)) or _("none")),
        )
    _require_module(cluster, "ex05", "ex05_tasks")
    names = {worker: cluster.node_name(worker) for worker in EX05_ROLES}
    nodes = list(names.values())
    _reset_queues(cluster, nodes)  # a fresh start: an earlier dedicate() must not decide this verdict
    calls = _dedicate_calls(cluster.celery.control, dedicate)
    problem = _dedicate_problem(_settled_consumers(cluster, nodes), calls, names)
    if problem:
        _fail("ex05", problem)

    app = cluster.celery
    warm = app.send_task("ex05_tasks.fetch", kwargs={"ms": 1}, queue=queues["ex05_tasks.fetch"])
    try:  # the I/O worker picks up its new queue on its next poll; measure after that
        warm.get(timeout=TASK_TIMEOUT)
    except Exception as exc:
        _fail(
            "ex05",
            _(
                "a fetch task sent to the io queue did not finish within {timeout:g} s: "
                "{error_type}: {error}. Did cluster.add_tasks('work/ex05_tasks.py') succeed?"
            ).format(timeout=TASK_TIMEOUT, error_type=type(exc).__name__, error=exc),
        )
    busy = [
        app.send_task("ex05_tasks.crunch", kwargs={"ms": 300}, queue=queues["ex05_tasks.crunch"])
        for _crunch in range(crunches)
    ]
    sent = time.monotonic()
    quick = app.send_task("ex05_tasks.fetch", kwargs={"ms": 50}, queue=queues["ex05_tasks.fetch"])
    try:
        fetched = quick.get(timeout=TASK_TIMEOUT)
        waited = time.monotonic() - sent
        for result in busy:
            result.get(timeout=TASK_TIMEOUT + crunches * 0.3)
    except Exception as exc:
        _fail(
            "ex05",
            _("the tasks of the measurement did not finish: {error_type}: {error}").format(
                error_type=type(exc).__name__, error=exc
            ),
        )
    if fetched["worker"] != names["w1"]:
        _fail(
            "ex05",
            _("expected the fetch task on the I/O worker w1, found it on {worker}").format(worker=fetched["worker"]),
        )
    # the order of finishing, not a stopwatch: a loaded machine slows every task alike
    ahead = sum(result.date_done < quick.date_done for result in busy)
    if ahead > crunches // 2:
        _fail(
            "ex05",
            _(
                "expected the fetch task to finish before most of the {crunches} CPU tasks queued with it, "
                "found {ahead} of them done first: it waited behind the crunching."
            ).format(crunches=crunches, ahead=ahead),
        )
    _passed(
        "ex05",
        _(
            "route() sent crunch to cpu and fetch to io; dedicate() gave io to w1 only and cpu to w2 and w3 "
            "only; with {crunches} CPU tasks queued, a fetch finished before most of them, in {ms:.0f} ms, on "
            "its own worker."
        ).format(crunches=crunches, ms=waited * 1000),
    )


# --------------------------------------------------------------- exercise 06
EX06_LOG = "ex06:log"
LAB_KEYS = ("celery", "_kombu", "unacked", "labapp", "chord-unlock")  # Celery's and the lab's own keys


def _student_keys(store) -> dict[str, float]:
    """Keys the student's code may have set (not Celery's or the lab's): name -> seconds left (-1: no expiry)."""
    return {key: store.ttl(key) for key in store.scan_iter(count=1000) if not key.startswith(LAB_KEYS)}


def _ex06_wait(result, states: tuple, timeout: float) -> str:
    _wait_quietly(lambda: result.state in states, timeout)
    return result.state


def _ex06_seconds(moment) -> float:
    """A result's date_done as seconds since the epoch (Celery gives an aware or a naive UTC datetime)."""
    from datetime import timezone

    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _ex06_finish(result, timeout: float, unfinished) -> None:
    """Wait for record() to end: its error, or unfinished(state) when it did not end in time, is the ✗ line."""
    state = _ex06_wait(result, ("SUCCESS", "FAILURE"), timeout)
    if state == "FAILURE":
        _ex06_failure(result)
    if state != "SUCCESS":
        _fail("ex06", unfinished(state))


def _ex06_failure(result) -> None:
    error = f"{type(result.result).__name__}: {result.result}"
    if "NotImplementedError" in error:
        _fail("ex06", _("record() still raises NotImplementedError: replace the stub with your code."))
    _fail("ex06", _("record() failed: {error}").format(error=error))


def _ex06_plain_runs(cluster, store) -> None:
    """Three tasks that nobody interrupts, two of them with the same item: each must append its item once."""
    item, other = f"item-{uuid.uuid4().hex[:8]}", f"item-{uuid.uuid4().hex[:8]}"
    results = []
    for name in (item, other, item):  # one after the other, so "only the first" means the first
        result = cluster.celery.send_task("ex06_tasks.record", kwargs={"item": name, "seconds": 0})
        _ex06_finish(
            result,
            TASK_TIMEOUT,
            lambda state: (
                _(
                    "expected record() to finish within {timeout:g} s, found {state}: "
                    "the machine is too busy to judge; run the check again, nothing passed."
                )
                if state == "STARTED"
                else _(
                    "expected record() to finish within {timeout:g} s, found {state}: "
                    "did cluster.add_tasks('work/ex06_tasks.py') succeed? Is a worker running (cluster.status())?"
                )
            ).format(timeout=TASK_TIMEOUT, state=state),
        )
        results.append(result)
    log = store.lrange(EX06_LOG, 0, -1)
    counts = (log.count(item), log.count(other))
    if counts == (0, 0):
        _fail(
            "ex06",
            _(
                "expected each item once in ex06:log after 3 tasks that ran once, without any crash, found "
                "none of them: a task that runs once must append. Does it append only when the key was "
                "already set? store.set(key, 1, nx=True) answers True when it set the key, on the first run."
            ),
        )
    if sum(counts) == 1:
        _fail(
            "ex06",
            _(
                "expected each of 3 tasks (3 different task ids) to append its item, found only the first "
                "did: the guard's key is the same for every task, so after the first the key is always "
                "there. Make the key from the task's id, self.request.id."
            ),
        )
    if counts == (1, 1):
        _fail(
            "ex06",
            _(
                "expected {item} twice in ex06:log (two tasks, two ids, the same item), found it once: "
                "the guard is keyed on the item, so a second task with the same item is skipped. Once per "
                "task means a key from the task's id, self.request.id."
            ).format(item=repr(item)),
        )
    if counts != (2, 1):
        _fail(
            "ex06",
            _(
                "expected {item} twice and {other} once in ex06:log after 3 tasks without any crash, "
                "found them {count} and {other_count} times"
            ).format(item=repr(item), other=repr(other), count=counts[0], other_count=counts[1]),
        )


def _ex06_twice_problem(item: str, count: int, task_id: str, at_kill: dict, after: dict) -> str:
    """Why the item was appended on both runs, read from the keys the task left."""
    lead = _(
        "expected {item} once in ex06:log, found it {count} times: the task ran again after its worker died "
        "(at-least-once delivery) and appended again."
    ).format(item=repr(item), count=count)
    named = [key for key in at_kill if task_id in key]
    if named and not any(key in after for key in named):
        why = _(
            "Your key {key} had {ttl} s to live when the worker died and was gone "
            "when the task ran again: it expired first. The redelivery comes after the visibility timeout; "
            "keep the key longer than that (ex=3600)."
        ).format(key=repr(named[0]), ttl=at_kill[named[0]])
    elif named:
        why = _(
            "Your key {key} was there when the task ran again, yet it appended: append only when "
            "store.set(key, 1, nx=True) answers True. Without nx=True, SET always succeeds."
        ).format(key=repr(named[0]))
    elif at_kill:
        why = _(
            "The key your task set ({key}) does not name the task's id, so the second "
            "run made a new one: a key from a fresh uuid or the time changes on every run. Use self.request.id, "
            "the same on every run of the task."
        ).format(key=repr(next(iter(at_kill))))
    else:
        why = _(
            "No key was set: mark the effect as done under the task's id (self.request.id) with SET NX, and "
            "append only if you set it."
        )
    return f"{lead} {why}"


def check_ex06(cluster, item: str | None = None, seconds: float = 3.0) -> None:
    """ex06: record() appends its item once per task: without a crash, for several tasks, and after a crash."""
    _require_module(cluster, "ex06", "ex06_tasks")
    if not cluster.workers:
        _fail("ex06", _("expected a running worker, found none: run the start cell again."))
    store = cluster.redis
    for key in list(store.scan_iter("ex06:*")):  # a fresh store: an earlier run's keys must not decide this one
        store.delete(key)
    _ex06_plain_runs(cluster, store)

    item = item or f"item-{uuid.uuid4().hex[:8]}"
    before = _student_keys(store)
    result = cluster.celery.send_task("ex06_tasks.record", kwargs={"item": item, "seconds": seconds})
    state = _ex06_wait(result, ("STARTED", "SUCCESS", "FAILURE"), TASK_TIMEOUT)
    if state == "FAILURE":
        _ex06_failure(result)
    if state != "STARTED" and state != "SUCCESS":
        _fail(
            "ex06",
            _(
                "expected record() to start within {timeout:g} s, found {state}: the machine may be too "
                "busy to judge; run the check again."
            ).format(timeout=TASK_TIMEOUT, state=state),
        )
    deadline = time.monotonic() + seconds + TASK_TIMEOUT
    while item not in store.lrange(EX06_LOG, 0, -1) and result.state == "STARTED" and time.monotonic() < deadline:
        time.sleep(0.05)  # kill only once the effect happened: the point is a crash after it
    worker = (result.info or {}).get("hostname", "").split("@")[0] if result.state == "STARTED" else ""
    if worker not in cluster.workers or item not in store.lrange(EX06_LOG, 0, -1):
        _fail(
            "ex06",
            _(
                "the machine is too busy to judge: the task was not caught running after its append (it ended "
                "before its worker could be killed). Run the check again; nothing passed."
            ),
        )
    at_kill = {key: ttl for key, ttl in _student_keys(store).items() if key not in before}
    killed_at = time.time()
    cluster.kill_worker(worker)
    cluster.scale(len(cluster.workers) + 1)  # a replacement, so the redelivered task has somewhere to go
    wait = cluster.settings.visibility_timeout + seconds + 30
    _ex06_finish(
        result,
        wait,
        lambda state: _(
            "the machine is too busy to judge: after the crash the task did not run again within "
            "{wait:g} s (state {state}). Run the check again; nothing passed."
        ).format(wait=wait, state=state),
    )
    if _ex06_seconds(result.date_done) <= killed_at:  # the replacement takes the killed one's name: compare times
        _fail(
            "ex06",
            _(
                "the machine is too busy to judge: the killed worker had already finished the task, so it never "
                "ran twice. Run the check again; nothing passed."
            ),
        )
    count = store.lrange(EX06_LOG, 0, -1).count(item)
    if count == 0:
        _fail(
            "ex06",
            _(
                "expected {item} once in the list ex06:log, found it never after the crash: the second run "
                "removed it, or appended it elsewhere?"
            ).format(item=repr(item)),
        )
    if count > 1:
        _fail("ex06", _ex06_twice_problem(item, count, result.id, at_kill, _student_keys(store)))
    _passed(
        "ex06",
        _(
            "3 tasks without a crash appended their items once per task (the same item twice, from two "
            "tasks); then the worker running record(...) was killed mid-task, the task ran again, and its "
            "item is in ex06:log exactly once."
        ),
    )


# --------------------------------------------------------------- exercise 07
EX07_STEP_S = 0.5  # the probes' clock: one look every half second, as the controller's
EX07_FLAP_LIMIT = 10  # changes a minute: more is flapping (each start and each warm stop costs seconds)
EX07_QUIET_S = 30.0  # seconds of an empty queue after which a sound policy is back at its minimum
EX07_MAX_WORKERS, EX07_MIN_WORKERS, EX07_PER_WORKER = 4, 1, 4  # the exercise's bounds and tasks a worker


class _PolicyBroke(Exception):
    """The student's policy raised, or answered no whole number, on one load of a probe."""


def _ask_ex07(policy, queue_length: int, busy: int, workers: int, now: float) -> int:
    """The policy's answer as a worker count; _PolicyBroke naming the load if it raised or answered no number."""
    from labapp.elastic.autoscaler import as_worker_count

    load = f"queue_length={queue_length}, busy={busy}, workers={workers}, now={now:g}"  # code: no translation
    try:
        answer = policy(queue_length, busy, workers, now)
    except NotImplementedError:
        raise _PolicyBroke(
            _("policy(...) still raises NotImplementedError: replace the stub with your code.")
        ) from None
    except Exception as exc:  # the student's code may raise anything
        raise _PolicyBroke(
            _(
                "policy({load}) raised {error_type}: {error}. The controller keeps the last number of workers "
                "when a policy raises, so a burst would find the cluster stuck where it was."
            ).format(load=load, error_type=type(exc).__name__, error=exc)
        ) from None
    wanted = as_worker_count(answer)
    if wanted is None:
        raise _PolicyBroke(
            _(
                "policy({load}) returned {value}, expected a whole number of workers: does every branch of "
                "your policy end with a return?"
            ).format(load=load, value=repr(answer)[:80])
        )
    return wanted


def _ex07_probe(policy, loads, low: int, high: int) -> list[tuple[int, int, int, float, int]]:
    """Feed the policy a scripted load, one look every EX07_STEP_S; the workers follow its answer at once
    (within [low, high], as the controller does). loads: (queue_length, busy is "all"/"none") per look.
    Returns (queue, busy, workers, now, wanted) per look."""
    workers, looks = low, []
    for step, (queue, all_busy) in enumerate(loads):
        now = step * EX07_STEP_S
        busy = workers if all_busy else 0
        wanted = _ask_ex07(policy, queue, busy, workers, now)
        looks.append((queue, busy, workers, now, wanted))
        workers = min(max(wanted, low), high)
    return looks


def _ex07_burst_then_quiet(policy, low: int, high: int):
    """A burst (a queue of 40, every worker busy, 3 s) and then EX07_QUIET_S seconds of nothing."""
    steps = int(3 / EX07_STEP_S), int(EX07_QUIET_S / EX07_STEP_S)
    return _ex07_probe(policy, [(0, False)] + [(40, True)] * steps[0] + [(0, False)] * steps[1], low, high)


def _ex07_first_added(policy, low: int) -> int | None:
    """The queue length at which the policy first asks for a second worker (one busy, the queue growing by one
    a look from 0 to 200); None if it never does."""
    looks = _ex07_probe(policy, [(0, False)] + [(queue, True) for queue in range(201)], low, low)
    return next((queue for queue, _busy, workers, _now, wanted in looks[1:] if wanted > workers), None)


def _ex07_changes_a_minute(policy, low: int, high: int) -> int:
    """How often the workers change in a minute of a load that comes and goes every second: a queue of 8
    (every worker busy) for one second, then an empty queue and idle workers for the next."""
    wave = ([(8, True)] * 2 + [(0, False)] * 2) * int(60 / (4 * EX07_STEP_S))
    looks = _ex07_probe(policy, [(0, False)] + wave, low, high)
    counts = [min(max(wanted, low), high) for *_load, wanted in looks]
    return sum(1 for before, after in zip(counts, counts[1:]) if after != before)


def _ex07_trace():
    """The check's replay: a trickle, a burst of 24 at 1 s, a quiet stretch, a burst of 16 at 14 s (20 s)."""
    from labapp.elastic.trace import bursty_trace

    return bursty_trace(7, length=20.0, trickle_per_s=0.5, bursts=((1.0, 24, 0.5), (14.0, 16, 0.5)), task_s=0.5)


def replay_ex07(cluster, policy, max_workers: int, min_workers: int = 1):
    """Replay the check's trace with the policy on the real cluster (from min_workers, the controller adding no
    cooldown of its own); return the SetupResult."""
    from labapp.elastic.setups import Setup, run_on

    cluster.scale(min_workers)
    options = dict(policy=policy, min_workers=min_workers, max_workers=max_workers, cooldown=0.0, interval=0.5)
    return run_on(cluster, Setup("ex07", min_workers, autoscaler=options), _ex07_trace())


def _ex07_figures(result, max_workers: int) -> dict:
    """The replay's figures for the messages: p95, worker-seconds, a fixed pool of max_workers', changes."""
    minutes = max(result.end, 1.0) / 60
    return {
        "p95": result.p95,
        "spent": result.worker_seconds,
        "fixed": max_workers * result.end,
        "max": max_workers,
        "changes": result.changes,
        "rate": result.changes / minutes,
        "seconds": result.end,
    }


def _ex07_replay_problem(result) -> str | None:
    """What the replay's own decisions show: the policy raised or answered no number on a real load."""
    broken = [d for d in result.decisions if d.kind == "error" and d.wanted is None]
    if broken:
        return _("during the replay, at {at:.1f} s: {reason}").format(at=broken[0].at, reason=broken[0].reason)
    return None


def check_ex07(cluster, policy):
    """ex07: the policy answers every load, stays within the maximum, adds workers for a queue, scales down
    after the load is gone, and does not flap; judged on scripted loads (the same on every machine), with the
    figures of a real replay through the Autoscaler. Returns the replay's SetupResult."""
    max_workers, min_workers, per_worker = EX07_MAX_WORKERS, EX07_MIN_WORKERS, EX07_PER_WORKER
    if not callable(policy):
        _fail("ex07", _("expected policy to be a function, found {found}").format(found=repr(policy)[:80]))
    broke = None
    try:
        burst = _ex07_burst_then_quiet(policy, min_workers, max_workers)
        first = _ex07_first_added(policy, min_workers)
        changes = _ex07_changes_a_minute(policy, min_workers, max_workers)
    except _PolicyBroke as exc:
        broke = str(exc)
    if broke:
        _fail("ex07", broke)
    try:
        result = replay_ex07(cluster, policy, max_workers, min_workers)
    except (TimeoutError, RuntimeError) as exc:  # a result missing or failed: say so, not a traceback
        _fail("ex07", _("the replay did not finish: {error}").format(error=exc))
    problem = _ex07_replay_problem(result)
    if problem:
        _fail("ex07", problem)
    figures = _ex07_figures(result, max_workers)
    above = max(wanted for *_load, wanted in burst)
    if above > max_workers:
        clamped = sum(1 for d in result.decisions if d.clamped and (d.wanted or 0) > max_workers)
        _fail(
            "ex07",
            ngettext(
                "for a queue of 40 your policy asked for {wanted} workers, expected at most MAX_WORKERS = {max}: "
                "it ignores the maximum, and the controller had to clamp it ({clamped} time in the replay). A "
                "real cluster's maximum is what you can pay for: keep your answer within it.",
                "for a queue of 40 your policy asked for {wanted} workers, expected at most MAX_WORKERS = {max}: "
                "it ignores the maximum, and the controller had to clamp it ({clamped} times in the replay). A "
                "real cluster's maximum is what you can pay for: keep your answer within it.",
                clamped,
            ).format(wanted=above, max=max_workers, clamped=clamped),
        )
    if first is None or first > 2 * per_worker:
        found = (
            _("it never added one, even for a queue of 200")
            if first is None
            else _("it waited for a queue of {queue} before adding a worker").format(queue=first)
        )
        _fail(
            "ex07",
            _(
                "with 1 worker busy, expected a second worker by the time {limit} tasks wait ({per} a worker), "
                "found {found}. In the replay, p95 was {p95:.1f} s."
            ).format(limit=2 * per_worker, per=per_worker, found=found, **figures),
        )
    peak, last = max(workers for _q, _b, workers, _n, _w in burst), burst[-1][2]
    if last >= peak:
        _fail(
            "ex07",
            _(
                "after {quiet:g} s with an empty queue and no task running, your policy still wanted {last} "
                "workers, expected it back at MIN_WORKERS = {min}: it never scales down. In the replay you "
                "spent {spent:.0f} worker-seconds; a fixed pool of {max} for the same {seconds:.0f} s spends "
                "{fixed:.0f}."
            ).format(quiet=EX07_QUIET_S, last=last, min=min_workers, **figures),
        )
    if changes > EX07_FLAP_LIMIT:
        _fail(
            "ex07",
            _(
                "under a load that comes and goes every second your policy changed the number of workers "
                "{changes} times in a minute, expected at most {limit}: it flaps. Every start takes a worker's "
                "start time and every stop waits for a task; keep the workers for a cooldown (use now) before "
                "scaling down. (The replay's bursts, far apart, made it scale only {replayed} times in "
                "{seconds:.0f} s: flapping shows under a load that comes and goes.)"
            ).format(changes=changes, limit=EX07_FLAP_LIMIT, replayed=figures["changes"], seconds=figures["seconds"]),
        )
    _passed(
        "ex07",
        _(
            "your policy answered every load with a whole number within the maximum, added a worker by the "
            "time {limit} tasks waited, held its workers through a load that came and went every second, and was "
            "back at the minimum after {quiet:g} quiet seconds; in the replay through the real autoscaler every "
            "task finished."
        ).format(limit=2 * per_worker, quiet=EX07_QUIET_S),
    )
    return result


# the one place every check passes through: each check_exNN reports its outcome to the class, if joined
for _name in [name for name in list(globals()) if name.startswith("check_ex")]:
    globals()[_name] = _reported(globals()[_name])
del _name
