"""Mistakes students really make in ex03, each planted into a copy of solutions/ex03_several_workers.ipynb."""
from tests.mistakes import Mistake

SEND = 'results = [cluster.celery.send_task("ex03_tasks.factorial", kwargs={"n": n}) for _ in range(tasks)]'
COLLECT = "    values = [pending.get(timeout=60) for pending in results]  # every result, after all were sent"
STOP_CLOCK = "return tasks / (time.perf_counter() - start)"

MISTAKES = [
    Mistake(
        name="reads ready() instead of waiting for the results",
        cell="ex-05",
        find=COLLECT,
        replace="    values = [pending.ready() for pending in results]",
        expect=r"never waited",
        source="issue 24 (passed with 2.7x on 2 cores); Celery docs, AsyncResult.ready() 'Return True if the task "
               "has executed' (it does not wait) against get() 'Wait until task is ready'",
    ),
    Mistake(
        name="waits for the first result only",
        cell="ex-05",
        find=COLLECT,
        replace="    values = [results[0].get(timeout=60)]  # the rest run alongside it",
        expect=r"never waited.*ready\(\) only asks|had not finished",
        source="concept: a batch is done when its last task is; a common Q&A question: 'how do I wait for "
               "several Celery tasks' (answers: a loop of get() or a group's join)",
    ),
    Mistake(
        name="calls .get() right after each send",
        cell="ex-05",
        find=(SEND, COLLECT),
        replace=(SEND.replace("kwargs={\"n\": n})", "kwargs={\"n\": n}).get(timeout=60)"), "    values = results"),
        expect=r"one task at a time",
        source="LESSONS.md confusion 3 (.get() blocks); Celery docs, Tasks: 'Avoid launching synchronous "
               "subtasks'; a common Q&A question: 'Celery tasks run one after another, not in parallel'",
    ),
    Mistake(
        name="never scales the cluster",
        cell="ex-05",
        find="    cluster.scale(workers)\n",
        replace="",
        expect=r"never scaled the cluster",
        source="concept: throughput by worker count needs that many workers; a common Q&A question: 'adding "
               "workers does not make Celery faster' (only one worker was running)",
    ),
    Mistake(
        name="scales to one worker whatever it is asked",
        cell="ex-05",
        find="cluster.scale(workers)",
        replace="cluster.scale(1)",
        expect=r"never scaled the cluster",
        source="concept: one worker only serialises the batch (LESSONS.md confusion 4)",
    ),
    Mistake(
        name="sends one task per worker instead of the whole batch",
        cell="ex-05",
        find="for _ in range(tasks)]",
        replace="for _ in range(workers)]",
        expect=r"whole batch",
        source="concept: throughput compares the same work on more workers; a batch that grows with the workers "
               "hides the scaling",
    ),
    Mistake(
        name="stops the clock before collecting the results",
        cell="ex-05",
        find=(COLLECT, STOP_CLOCK),
        replace=("    elapsed = time.perf_counter() - start  # all sent\n" + COLLECT, "return tasks / elapsed"),
        expect=r"stopped the clock before the last result",
        source="concept: apply_async/send_task return at once (Celery docs, Calling Tasks); a common Q&A "
               "question: 'measuring the execution time of Celery tasks'",
    ),
    Mistake(
        name="starts the clock before scaling",
        cell="ex-05",
        find="    cluster.scale(workers)\n    start = time.perf_counter()\n",
        replace="    start = time.perf_counter()\n    cluster.scale(workers)\n",
        expect=r"included something else, such as cluster.scale",
        source="concept: a worker takes a moment to start (DESIGN.md: ~0.4 s), which is not the batch's time",
    ),
    Mistake(
        name="returns seconds instead of tasks per second",
        cell="ex-05",
        find=STOP_CLOCK,
        replace="return time.perf_counter() - start",
        expect=r"how many seconds the batch took",
        source="concept: throughput is tasks per second; the notebook prints it as tasks/s",
    ),
    Mistake(
        name="answers the best throughput instead of a worker count",
        cell="ex-11",
        find="plateau_workers = min(w for w in throughput if throughput[w] >= 0.9 * best)",
        replace="plateau_workers = best",
        expect=r"not one of the worker counts",
        source="concept: the plateau is a number of workers, read off the table",
    ),
]
