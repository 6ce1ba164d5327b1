"""Every module of the package imports on its own, and no two modules import each other."""

import os
import subprocess
import sys

from tests.support.package_graph import all_modules, imports_of

SOURCES = all_modules()
MODULES = sorted(name for name in SOURCES if name != "labapp.__main__")


# Each module is imported in its own child, forked before any labapp module is loaded. The
# third-party libraries are loaded once before the forks: importing them again in 20
# interpreters would cost 10 s, and they cannot hide a cycle between labapp's modules.
IMPORT_EACH = """
import importlib, os, sys, traceback
for library in ("celery", "celery.result", "redis", "kombu", "flask", "waitress", "psutil",
                "matplotlib.figure", "ipywidgets"):
    importlib.import_module(library)
assert not [m for m in sys.modules if m.startswith("labapp")]
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    if os.waitpid(pid, 0)[1]:
        print("FAILED:", name, flush=True)
"""


def test_each_module_imports_alone_in_a_fresh_interpreter():
    # a broker URL that nothing connects to: labapp.worker reads it when imported
    env = dict(os.environ, LABAPP_BROKER_URL="redis://127.0.0.1:9/0")
    run = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, *MODULES], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0 and "FAILED" not in run.stdout, run.stdout + run.stderr


def imported_modules(name: str) -> set[str]:
    """The package's modules that module `name` imports, at its top or inside a function."""
    # every submodule loads the package itself first: `labapp` (its __init__) is no edge of a cycle
    return {
        target for target in imports_of(SOURCES[name], name) if target in SOURCES and target not in (name, "labapp")
    }


def test_no_import_cycle_between_modules():
    # an import deferred into a function hides a cycle from the first test, not from this one
    graph = {name: imported_modules(name) for name in MODULES}
    assert graph["labapp.plots"] and graph["labapp.bench"]  # the parser sees their imports

    def cycle_from(start, path):
        for nxt in sorted(graph[path[-1]]):
            if nxt == start:
                return path + [nxt]
            if nxt not in path:
                found = cycle_from(start, path + [nxt])
                if found:
                    return found
        return None

    cycles = [cycle_from(name, [name]) for name in MODULES]
    assert [c for c in cycles if c] == []


def test_a_worker_imports_none_of_the_clusters_own_code():
    """`celery -A labapp.worker worker` starts without labapp.cluster, the broker's or the registry's code:
    every worker start (cold start, scale(+1), add_tasks) paid their import (lazy labapp/__init__)."""
    env = dict(os.environ, LABAPP_BROKER_URL="redis://127.0.0.1:9/0")
    script = "import sys, labapp.worker; print(sorted(m for m in sys.modules if m.startswith('labapp')))"
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    loaded = set(eval(run.stdout.strip().splitlines()[-1]))
    unneeded = loaded & {"labapp.cluster", "labapp.engine.broker", "labapp.engine.registry", "labapp.api.client"}
    assert not unneeded, f"expected a worker to import none of the cluster's own code, found {sorted(unneeded)}"


def test_the_package_still_offers_its_names():
    import labapp

    assert labapp.Cluster.__name__ == "Cluster" and labapp.Settings.__name__ == "Settings"
    assert {"Cluster", "LabClient", "Settings"} <= set(dir(labapp))
