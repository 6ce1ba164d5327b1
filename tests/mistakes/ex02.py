"""Mistakes students really make in ex02, each planted into a copy of solutions/ex02_endpoints.ipynb."""
from tests.mistakes import Mistake

SEND = '    celery.send_task("ex02_tasks.factorial", kwargs={"n": n}, task_id=new_id)'
ANSWER = '    return jsonify(task_id=new_id, status_url=status_url), 202, {"Location": status_url}'
KNOWN = '    if not store.exists(f"ex02:issued:{task_id}"):'
VALID = "    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_N:"

MISTAKES = [
    Mistake(
        name="waits for the result (.get()) before answering 202",
        cell="ex-06",
        find=SEND,
        replace=SEND + ".get(timeout=30)  # so the status is ready",
        expect=r"did not answer within 4 s: it waits for the result \(\.get\(\)\)",
        source="LESSONS.md confusion 3; DESIGN.md known trap (get() inside a request); Celery docs, Tasks: "
               "'Avoid launching synchronous subtasks'; a common Q&A question: 'Flask request blocks until the "
               "Celery task finishes'",
    ),
    Mistake(
        name="answers 200 with the result instead of 202 with the id",
        cell="ex-06",
        find=ANSWER,
        replace="    return jsonify(celery.AsyncResult(new_id).get(timeout=30))",
        expect=r"found 200 .*does the endpoint wait for the result \(\.get\(\)\)",
        source="LESSONS.md confusion 3; a common Q&A question: 'how to return the result of a Celery task "
               "from a Flask view'",
    ),
    Mistake(
        name="answers 200, not 202, when it starts the task",
        cell="ex-06",
        find=ANSWER,
        replace="    return jsonify(task_id=new_id, status_url=status_url)",
        expect=r"expected 202 with a task_id, found 200",
        source="concept: 202 Accepted says the work is queued, not done (RFC 9110, 15.3.3)",
    ),
    Mistake(
        name="keeps no record of issued ids (Celery's PENDING for any id)",
        cell="ex-06",
        find=(KNOWN + "\n", '        return jsonify(error=f"no task {task_id!r} was started here"), 404\n'),
        replace=("", ""),
        expect=r"expected 404 for an id your API never issued, found 200 with state 'PENDING'",
        source="LESSONS.md confusion 1; DESIGN.md known trap (celery#3596); Celery docs, AsyncResult.state: "
               "'PENDING: The task is waiting for execution or unknown'",
    ),
    Mistake(
        name="answers 404 for a PENDING state, the queued task's state too",
        cell="ex-06",
        find=KNOWN,
        replace='    if celery.AsyncResult(task_id).state == "PENDING":',
        expect=r"PENDING for a queued task and for an unknown id alike",
        source="LESSONS.md confusion 1; a common Q&A question: 'Celery task always PENDING' (unknown ids and "
               "queued tasks look the same)",
    ),
    Mistake(
        name="accepts true as a number",
        cell="ex-06",
        find=VALID,
        replace="    if not isinstance(n, int) or not 0 <= n <= MAX_N:",
        expect=r'\{"n": true\} \(true is a bool.*found 202',
        source="Python docs: bool is a subclass of int; DESIGN.md (bool is not an int)",
    ),
    Mistake(
        name="accepts a float such as 2.5",
        cell="ex-06",
        find=VALID,
        replace="    if isinstance(n, bool) or not isinstance(n, (int, float)) or not 0 <= n <= MAX_N:",
        expect=r'\{"n": 2\.5\} \(not a whole number\), found 202',
        source="concept: JSON has one number type; a check for 'a number' lets 2.5 through",
    ),
    Mistake(
        name="accepts any n, even negative",
        cell="ex-06",
        find=VALID,
        replace="    if isinstance(n, bool) or not isinstance(n, int):",
        expect=r'\{"n": -1\} \(a negative n\), found 202',
        source="concept: validate before queueing (a task that can only fail wastes a worker); DESIGN.md: bad "
               "input never gives a 500 or a queued task",
    ),
    Mistake(
        name="puts the AsyncResult itself in the JSON answer",
        cell="ex-06",
        find=(SEND, ANSWER),
        replace=("    pending = " + SEND.strip(), "    return jsonify(task=pending), 202"),
        expect=r"with the body \{\"n\": \d+\}, found 500: your endpoint raised .*AsyncResult is not JSON "
               r"serializable.*start_factorial",
        source="a common Q&A question: 'Object of type AsyncResult is not JSON serializable' (return its id)",
    ),
    Mistake(
        name="lets other fields through beside n",
        cell="ex-06",
        find='if not isinstance(body, dict) or set(body) != {"n"}:',
        replace='if not isinstance(body, dict) or "n" not in body:',
        expect=r'\{"n": 20, "x": 1\} \(a field besides n\), found 202',
        source="DESIGN.md (extra keys get 400); a common Q&A question on strict JSON validation in Flask",
    ),
]
