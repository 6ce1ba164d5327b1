"""Mistakes students really make in ex05, each planted into a copy of solutions/ex05_queues.ipynb.

Each find is a fragment of a solution line, never a whole one: `labapp pack` refuses any file holding a
whole solution line.
"""
from . import Mistake

ROUTING = "Celery docs, Routing Tasks (https://docs.celeryq.dev/en/stable/userguide/routing.html)"
WORKERS = "Celery docs, Workers Guide: Queues, add_consumer/cancel_consumer with destination node names"
TABLE = '{"ex05_tasks.crunch": "cpu", "ex05_tasks.fetch": "io"}[task_name]'

MISTAKES = [
    Mistake(
        name="route keyed on the short task names (a KeyError for 'ex05_tasks.crunch')",
        cell="ex-08",
        find=TABLE,
        replace='{"crunch": "cpu", "fetch": "io"}[task_name]',
        expect=r"route\('ex05_tasks\.crunch'\) raised KeyError.*module and function",
        source=f"{ROUTING}: task_routes keys are full task names; issue 24 (a raw traceback from checks.py)",
    ),
    Mistake(
        name="route keyed on the short task names, with a default queue",
        cell="ex-08",
        find=TABLE,
        replace='{"crunch": "cpu", "fetch": "io"}.get(task_name, "celery")',
        expect=r"knows the short names 'crunch' and 'fetch'",
        source=f"{ROUTING}; a common Q&A question: tasks are not routed to my queue (the name has the module); "
               "issue 24 (reported by its symptom only)",
    ),
    Mistake(
        name="route written with Celery's router signature (name, args, kwargs, options)",
        cell="ex-08",
        find=("def route(task_name):", "[task_name]"),
        replace=("def route(name, args, kwargs, options, task=None, **kw):", "[name]"),
        expect=r"route\('ex05_tasks\.crunch'\) raised TypeError.*one argument, the task's name",
        source=f"{ROUTING}: a router function is route_task(name, args, kwargs, options, task=None, **kw)",
    ),
    Mistake(
        name="route returns task_routes' {'queue': ...} instead of the queue's name",
        cell="ex-08",
        find=TABLE,
        replace='{"ex05_tasks.crunch": {"queue": "cpu"}, "ex05_tasks.fetch": {"queue": "io"}}[task_name]',
        expect=r"form of\s+Celery's task_routes",
        source=f"{ROUTING}: task_routes = {{'feed.tasks.import_feed': {{'queue': 'feeds'}}}}",
    ),
    Mistake(
        name="crunch and fetch routed to each other's queue",
        cell="ex-08",
        find=TABLE,
        replace='{"ex05_tasks.crunch": "io", "ex05_tasks.fetch": "cpu"}[task_name]',
        expect=r"found them\s+swapped",
        source="the concept: the queue is named for the kind of work, the worker for the queue",
    ),
    Mistake(
        name="bare worker names as destination (destination=['w1'])",
        cell="ex-08",
        find=('[cluster.node_name("w1")]', '[cluster.node_name("w2"), cluster.node_name("w3")]'),
        replace=('["w1"]', '["w2", "w3"]'),
        expect=r"reach a worker only by its node name.*cluster\.node_name\('w1'\)",
        source=f"{WORKERS} (-d/--destination takes node names like w1@host); issue 24 ('found none')",
    ),
    Mistake(
        name="never stops the workers consuming from the default queue 'celery'",
        cell="ex-08",
        find="control.cancel_consumer(",
        replace="# control.cancel_consumer(",
        expect=r"still\s+consume from the default queue 'celery'",
        source=f"{WORKERS}: add_consumer adds a queue, the worker keeps the ones it had",
    ),
    Mistake(
        name="add_consumer without a destination, so every worker takes the io queue",
        cell="ex-08",
        find='"io", destination=io, reply=True',
        replace='"io", reply=True',
        expect=r"consuming from both io and cpu.*without one goes\s+to every worker",
        source=f"{WORKERS}: a control command without destination is broadcast to all workers",
    ),
    Mistake(
        name="no worker given the cpu queue",
        cell="ex-08",
        find='control.add_consumer("cpu", destination=cpu',
        replace='# control.add_consumer("cpu", destination=cpu',
        expect=r"consuming from the 'cpu' queue, found none.*never called control\.add_consumer\('cpu'",
        source="a common Q&A question: tasks stay in the queue, no worker consumes it (celery worker -Q)",
    ),
]
