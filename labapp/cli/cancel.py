"""``labapp cancel ID``: terminate a task on a running cluster's workers, whoever sent it."""

from __future__ import annotations

from labapp.cli.common import command, fail
from labapp.cli.tools import cluster_url
from labapp.i18n import _


def _settings_of(client):
    """The cluster's settings as its workers have them: a class's shared ones, else this shell's LABAPP_*."""
    from labapp.engine import classroom_protocol
    from labapp.settings import Settings

    info = classroom_protocol.read(client) or {}
    return Settings.from_env(**info.get("settings", {}))


def cmd_cancel(args) -> int:
    """Revoke a task on the cluster's live workers, killing the process that runs it; say what came of it."""
    import redis

    from labapp.engine import heartbeat, task_cancel
    from labapp.engine.celery_config import make_celery

    url, _folder = cluster_url(args.name)
    if url is None:
        return 1
    client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5, socket_connect_timeout=2)
    app = None
    try:
        settings = _settings_of(client)
        app = make_celery(settings, url)
        workers = [worker["name"] for worker in heartbeat.live_workers(client)]
        outcome = task_cancel.cancel(app, args.task_id, workers, settings.soft_time_limit)
    except (redis.RedisError, OSError) as exc:
        return fail(_("the cluster's broker did not answer: {error}").format(error=exc))
    finally:
        client.close()
        if app is not None:
            app.close()
    if not outcome.done:
        return fail(outcome)
    print(outcome)
    return 0


def register(sub) -> None:
    """Add ``cancel`` to the ``labapp`` parser."""
    cancel = command(
        sub,
        "cancel",
        cmd_cancel,
        _("terminate a task on a cluster's workers"),
        _(
            "Terminate a task on a running cluster's workers (this folder's first), whoever sent it: the "
            "worker kills the process that runs it, the task ends REVOKED, and the worker takes new tasks; "
            "a task still queued is dropped when a worker takes it. A class's workers refuse it (they take "
            "no orders from the network): the task then runs until its time limit."
        ),
    )
    cancel.add_argument("task_id", metavar="ID", help=_("the task's id"))
    cancel.add_argument("--name", help=_("the cluster (default: this folder's, as `labapp url`)"))
