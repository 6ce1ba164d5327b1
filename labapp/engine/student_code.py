"""Student code on the cluster: check a module in a separate process, then load it into workers or the API.

A student's file is first imported in a throw-away process (a syntax error, a
failing import or an endless loop at import time cannot hurt the cluster),
then copied into the cluster's own folder, and only that copy is loaded by the
cluster's workers (``cluster.add_tasks``) or its API (``cluster.add_routes``).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

from labapp.i18n import _

TASKS_ENV = "LABAPP_STUDENT_TASKS"  # copies of task modules the workers import at start
# in a cluster's folder: the task modules it loaded, with their tasks' names; its next start loads them
# again before any worker consumes (the broker keeps queued tasks across a restart: they need them)
TASKS_RECORD = "student-tasks.json"
ROUTES_ENV = "LABAPP_STUDENT_ROUTES"  # copies of blueprint modules the API registers at start
CHECK_TIMEOUT = 30.0
UNUSED_BROKER = "redis://:unused@127.0.0.1:1/0"  # checks import code, they never connect


class StudentCodeError(RuntimeError):
    """A student's module cannot be loaded; the message names the file, the line and the error."""

    def _render_traceback_(self) -> list[str]:
        """What a notebook shows: the message about the student's file, not the lab's traceback."""
        return [f"StudentCodeError: {self}"]


# ----------------------------------------------------------- in the notebook
def check_tasks(path: Path) -> dict[str, str]:
    """Import a task module in a separate process; return {task name: signature} or raise StudentCodeError."""
    return _run_check("tasks", path)


def check_routes(path: Path) -> list[str]:
    """Register a blueprint module on a copy of the API in a separate process; return its routes."""
    return _run_check("routes", path)


def _run_check(kind: str, path: Path):
    path = Path(path).expanduser().resolve()
    _check_file_name(path)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "labapp.engine.student_code", kind, str(path)],
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    except subprocess.TimeoutExpired:
        raise StudentCodeError(
            _(
                "{path}: importing it did not finish in {seconds:g} s. Does the module "
                "run something at import time (a loop, a .get(), a sleep)? Keep the work "
                "inside the task functions."
            ).format(path=path, seconds=CHECK_TIMEOUT)
        ) from None
    lines = done.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (IndexError, ValueError):
        if "Traceback (most recent call last)" not in done.stderr:
            # os._exit() or a signal at import: the check never got to answer (its stderr holds only
            # warnings Python printed on the way, unrelated to the cause)
            raise StudentCodeError(_ended_the_process(path, done.returncode)) from None
        raise StudentCodeError(
            _("{path}: checking it failed unexpectedly:").format(path=path) + "\n" + done.stderr[-2000:]
        ) from None
    if "error" in answer:
        raise StudentCodeError(answer["error"])
    return answer["found"]


def _ended_the_process(path: Path, returncode: int) -> str:
    """Why a check process ended before it could answer, in words."""
    if returncode < 0:
        from labapp.engine.logfiles import describe_exit

        return _("{path}: importing it ended the process ({how})").format(path=path, how=describe_exit(returncode))
    return _(
        "{path}: importing it ended the process with exit code {code} (does the top level of the file call os._exit()?)"
    ).format(path=path, code=returncode)


def _check_file_name(path: Path) -> None:
    if not path.is_file():
        raise StudentCodeError(
            _("no file at {path}: write it first (e.g. with %%writefile {name})").format(path=path, name=path.name)
        )
    if path.suffix != ".py" or not path.stem.isidentifier():
        raise StudentCodeError(
            _("{name}: a module's file name must be a Python name ending in .py, like ex01_tasks.py").format(
                name=path.name
            )
        )
    if path.stem in sys.stdlib_module_names or path.stem in ("labapp", "celery", "flask", "redis", "kombu"):
        raise StudentCodeError(
            _(
                "{name}: '{module}' is the name of a module Python already uses; "
                "name your file something else, like ex01_tasks.py"
            ).format(name=path.name, module=path.stem)
        )


def install(path: Path, folder: Path) -> Path:
    """Copy a checked student file into the cluster's folder; the cluster loads only this copy."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / Path(path).name
    shutil.copyfile(Path(path).expanduser().resolve(), copy)
    return copy


def record_tasks(folder: Path, modules: dict[str, dict]) -> None:
    """Write the record of a cluster's task modules: {module: {"copy", "source", "tasks"}}."""
    from labapp.engine.runtime_folder import write_private_file

    write_private_file(Path(folder) / TASKS_RECORD, json.dumps(modules, indent=2))


def recorded_tasks(folder: Path) -> dict[str, dict]:
    """The task modules a cluster's folder records whose copy is still there ({} if none)."""
    try:
        modules = json.loads((Path(folder) / TASKS_RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return {name: entry for name, entry in modules.items() if Path(entry.get("copy", "")).is_file()}


def env_value(paths) -> str:
    """The environment value listing module copies for a child process."""
    return os.pathsep.join(str(p) for p in paths)


# ------------------------------------------------------- in workers and the API
def load_module(path: Path):
    """Import the file at path as a top-level module named after it (its tasks are named ``stem.func``)."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[path.stem]
        raise
    return module


def _paths_from_env(name: str) -> list[Path]:
    paths = [Path(p) for p in os.environ.get(name, "").split(os.pathsep) if p]
    for folder in {str(p.parent) for p in paths} - set(sys.path):
        sys.path.insert(0, folder)  # the student's modules may import each other
    return paths


def modules_in_env() -> list[str]:
    """The student task modules this process was started to load (whether their import worked or not)."""
    return [Path(p).stem for p in os.environ.get(TASKS_ENV, "").split(os.pathsep) if p]


def load_student_tasks() -> list[str]:
    """In a worker: import the student task modules named in the environment (checked before)."""
    loaded = []
    for path in _paths_from_env(TASKS_ENV):
        try:
            load_module(path)
            loaded.append(path.stem)
        except BaseException:  # a worker without the module beats a dead worker: the check names it
            print(
                f"labapp: could not load student tasks from {path}:\n{traceback.format_exc()}",
                file=sys.stderr,
                flush=True,
            )
    return loaded


def blueprints_of(module) -> list:
    """The Flask blueprints a module defines."""
    from flask import Blueprint

    return [value for value in vars(module).values() if isinstance(value, Blueprint)]


def register_student_routes(app) -> None:
    """In the API: register the blueprints of the student modules named in the environment."""
    for path in _paths_from_env(ROUTES_ENV):
        try:
            for blueprint in blueprints_of(load_module(path)):
                app.register_blueprint(blueprint)
        except BaseException:
            app.logger.exception("could not load student routes from %s", path)


# --------------------------------------------------------- the check process
def _describe(exc: BaseException, path: Path) -> str:
    """'file, line N: Error: message' pointing into the student's file where possible."""
    if isinstance(exc, SyntaxError) and exc.filename == str(path):
        code = (exc.text or "").rstrip()
        return f"{path}, line {exc.lineno}: {type(exc).__name__}: {exc.msg}" + (f"\n    {code.strip()}" if code else "")
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    where = f"{path}, line {frames[-1].lineno}" if frames else str(path)
    code = f"\n    {frames[-1].line}" if frames and frames[-1].line else ""
    return f"{where}: {type(exc).__name__}: {exc}{code}"


def _found_tasks(path: Path) -> dict[str, str]:
    from labapp.engine.celery_config import make_celery
    from labapp.settings import Settings

    app = make_celery(Settings(), UNUSED_BROKER)
    app.set_current()
    app.set_default()
    from labapp import tasks  # noqa: F401  (the lab's own tasks, so they are not counted as the student's)

    before = set(app.tasks)
    claimed = _record_task_names(app)
    load_module(path)
    app.loader.import_default_modules()
    _refuse_lab_names(path, [name for module, name in claimed if module == path.stem and name in before])
    found = {
        name: str(inspect.signature(app.tasks[name].run))
        for name in sorted(set(app.tasks) - before)
        if not name.startswith("celery.")
    }
    if not found:
        raise StudentCodeError(
            _(
                "{path}: found no Celery task in it. Decorate a function with "
                "@shared_task (from celery import shared_task) at the top level of the file."
            ).format(path=path)
        )
    return found


def _record_task_names(app) -> list[tuple[str, str]]:
    """Have app note (module, task name) of every function made a task from now on; return the list it fills.

    A task named like one of the lab's (``name="labapp.tasks.factorial"``) is not added: Celery hands back
    the lab's task instead, so only the registration itself shows the clash.
    """
    claimed: list[tuple[str, str]] = []
    register = app._task_from_fun

    def recording(fun, name=None, *args, **options):
        claimed.append((fun.__module__, name or app.gen_task_name(fun.__name__, fun.__module__)))
        return register(fun, name, *args, **options)

    app._task_from_fun = recording
    return claimed


def _refuse_lab_names(path: Path, clashes: list[str]) -> None:
    """Refuse a module that names a task like one the lab (or Celery) already has."""
    if clashes:
        raise StudentCodeError(
            _(
                "{path}: task {name} has the name of one of the lab's own tasks, so the workers would run the "
                "lab's task instead of yours; remove name=... or choose a name of your own"
            ).format(path=path, name=repr(clashes[0]))
        )


def _found_routes(path: Path) -> list[str]:
    from labapp.api.app import create_app
    from labapp.settings import Settings

    app = create_app(Settings(broker_url=UNUSED_BROKER))
    lab_routes = _routes(app)
    blueprints = blueprints_of(load_module(path))
    if not blueprints:
        raise StudentCodeError(
            _(
                "{path}: found no Flask blueprint in it. Create one at the top level: "
                "bp = Blueprint('ex02', __name__), and put your routes on it (@bp.post(...))."
            ).format(path=path)
        )
    for blueprint in blueprints:
        try:
            app.register_blueprint(blueprint)
        except ValueError as exc:
            raise StudentCodeError(
                _("{path}: blueprint {name} cannot be registered: {error}").format(
                    path=path, name=repr(blueprint.name), error=exc
                )
            ) from None
    added = {route: endpoint for route, endpoint in _routes(app).items() if route not in lab_routes}
    clashes = [
        f"{method} {rule}" for (method, rule), endpoint in _routes(app, all_endpoints=True).items() if len(endpoint) > 1
    ]
    if clashes:
        raise StudentCodeError(
            _(
                "{path}: route {route} already exists in the lab's API, which would "
                "answer it instead of yours; choose another path, e.g. /ex02/factorial."
            ).format(path=path, route=clashes[0])
        )
    return [f"{method} {rule}" for method, rule in sorted(added, key=lambda r: (r[1], r[0]))]


def _routes(app, all_endpoints: bool = False) -> dict:
    """{(method, rule): endpoint} of an app (with all_endpoints, {(method, rule): [endpoints]})."""
    routes: dict = {}
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if all_endpoints:
                routes.setdefault((method, rule.rule), []).append(rule.endpoint)
            else:
                routes.setdefault((method, rule.rule), rule.endpoint)
    return routes


def _main(argv: list[str]) -> int:
    kind, path = argv[0], Path(argv[1])
    sys.path.insert(0, str(path.parent))  # the student's own helper modules beside the file
    try:
        found = _found_tasks(path) if kind == "tasks" else _found_routes(path)
    except StudentCodeError as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    except BaseException as exc:  # anything the student's code raises
        print(json.dumps({"error": _describe(exc, path)}))
        return 1
    print(json.dumps({"found": found}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
