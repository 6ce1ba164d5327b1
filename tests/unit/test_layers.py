"""The package's import directions (docs/code.md): each layer imports only what is below it.

Read from the source (every ``import``, at the top of a module or inside a function), so a wrong
import fails here before any process starts.
"""

from __future__ import annotations

import pytest

from tests.support.package_graph import PACKAGE, all_modules, imports_of

NOTEBOOK_LAYER = (
    "labapp.widgets",
    "labapp.plots",
    "labapp.lesson",
    "labapp.live",
    "labapp.checks",
    "labapp.bench",
    "labapp.classroom",
    "labapp.reveal",
    "labapp.elastic",
)
# who (a module or a package, by prefix) must never import what (prefixes)
FORBIDDEN = {
    "labapp.engine": ("labapp.cluster", "labapp.cli", "labapp.authoring", "labapp.api.server", *NOTEBOOK_LAYER),
    "labapp.api": (
        "labapp.cluster",
        "labapp.cli",
        "labapp.authoring",
        "labapp.api.server",
        "labapp.engine.joiner",
        "labapp.engine.runtime_folder",
        *NOTEBOOK_LAYER,
    ),
    "labapp.authoring": ("labapp.cluster", "labapp.cli", "labapp.engine", "labapp.api", *NOTEBOOK_LAYER),
    "labapp.settings": ("labapp.",),
    "labapp.i18n": ("labapp.",),  # every layer may import it, so it imports none
    "labapp.tasks": ("labapp.cluster", "labapp.cli", "labapp.api", "labapp.authoring", *NOTEBOOK_LAYER),
    "labapp.worker": ("labapp.cluster", "labapp.cli", "labapp.api", "labapp.authoring", *NOTEBOOK_LAYER),
    "labapp.cluster": ("labapp.cli", "labapp.authoring", "labapp.api.server", *NOTEBOOK_LAYER),
    **{layer: ("labapp.cli", "labapp.api.server") for layer in NOTEBOOK_LAYER},
}


def wrong_imports(name: str, imported: set[str]) -> list[str]:
    """The imports that break a rule of FORBIDDEN, as 'module imports target'."""
    wrong = []
    for who, banned in FORBIDDEN.items():
        if name == who or name.startswith(who + "."):
            wrong += [
                f"{name} imports {target}"
                for target in sorted(imported)
                if any(
                    target == ban.rstrip(".")
                    or target.startswith(ban if ban.endswith(".") else ban + ".")
                    or target == ban
                    for ban in banned
                )
            ]
    return wrong


def test_every_module_imports_only_what_is_below_it():
    wrong = [line for name, source in all_modules().items() for line in wrong_imports(name, imports_of(source, name))]
    assert wrong == [], "imports against docs/code.md's directions:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("module", "planted"),
    [
        ("labapp.engine.broker", "from labapp.widgets import Dashboard"),
        ("labapp.engine.heartbeat", "def later():\n    from labapp import cluster\n"),
        ("labapp.api.app", "from labapp.cluster import Cluster"),
        ("labapp.authoring.pack", "from labapp.engine import processes"),
        ("labapp.settings", "import labapp.tasks"),
        ("labapp.i18n", "from labapp.settings import Settings"),
        ("labapp.widgets", "from labapp.cli import main"),
    ],
)
def test_a_planted_wrong_import_is_found(module, planted):
    source = all_modules()[module] + "\n" + planted + "\n"
    assert wrong_imports(module, imports_of(source, module)), f"{planted!r} in {module} went unnoticed"


def test_the_package_has_at_most_15_modules_at_its_top_level():
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= 15, f"expected at most 15 modules in labapp/, found {len(top)}: {top}"
