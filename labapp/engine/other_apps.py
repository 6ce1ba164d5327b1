"""Another app on the lab's broker: a plain Celery app that `labapp env` points at database 1.

The lab keeps database 0 and its `celery` queue; Redis keys, lists and kombu's fanout channels are per
database, so the other app's tasks and workers never meet the lab's. Its workers write no lab heartbeat:
a control broadcast on its database finds them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

APP_DATABASE = 1
MARK = "another app's"


def with_database(url: str, database: int) -> str:
    """The same redis:// URL on another database number."""
    return urlsplit(url)._replace(path=f"/{database}").geturl()


def app_workers(url: str, timeout: float = 0.5) -> list[dict]:
    """The workers that answer a control broadcast on database 1 of url's broker, with their registered tasks:
    [{"name", "app", "tasks"}] by name; [] when none answers within timeout or the broker is away."""
    from celery import Celery

    app = Celery("labapp-other-apps", set_as_current=False)
    app.conf.update(
        broker_url=with_database(url, APP_DATABASE),
        broker_connection_retry=False,
        broker_connection_retry_on_startup=False,
        broker_connection_timeout=2,
        broker_transport_options={"socket_connect_timeout": 2, "socket_timeout": 5, "max_retries": 0},
    )
    try:
        replies = app.control.inspect(timeout=timeout).registered() or {}
    except Exception:  # the broker is away: the lab's own views say so
        replies = {}
    finally:
        app.close()
    return [{"name": name, "app": MARK, "tasks": sorted(tasks)} for name, tasks in sorted(replies.items())]


def describe(worker: dict) -> str:
    """One worker of another app in words, e.g. "w1@vm (another app's: tasks.add, tasks.long_task)"."""
    return f"{worker['name']} ({MARK}: {', '.join(worker['tasks']) or 'no task'})"
