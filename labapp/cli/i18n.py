"""``labapp i18n update|build|kernel``: the Portuguese (pt-BR) workbook and the package's messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from labapp.cli.common import command, fail, root_option

I18N_DESCRIPTION = (
    "The pt-BR workbook is generated from the English one and gettext catalogs. `update` brings every "
    "catalog up to date with its English source (a changed cell keeps its old translation, marked fuzzy); "
    "`build` compiles the package's catalogs and writes notebooks/pt-BR, solutions/pt-BR, exercises/pt-BR, "
    "README.pt-BR.md and docs/pt-BR, then names the notebooks that need a run (--execute runs them); "
    "`kernel` installs the `Python 3 (pt-BR)` kernel the pt-BR notebooks name."
)
EXECUTE_TIMEOUT = 600  # s per cell, as the lessons' own nbconvert runs


def has_package(root: Path) -> bool:
    """True for this project (its labapp package has messages); a workbook alone has only its catalogs."""
    return (Path(root) / "labapp" / "__init__.py").is_file()


def update_command(root: Path) -> int:
    """``labapp i18n update``: the workbook catalogs, then the package's; print what changed."""
    from labapp.authoring import message_catalog, translation

    lines = translation.update_workbook_catalogs(root)
    if has_package(root):
        lines += [f"updated {path}" for path in message_catalog.update_message_catalog(root)]
    for line in lines:
        print(line)
    if not lines:
        print("every catalog is up to date")
    return 0


def execute_notebook(root: Path, relative: Path) -> int:
    """Run one generated notebook in place with the pt-BR kernel; nbconvert's exit code."""
    from labapp.authoring import translation

    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace"]
    command += [
        f"--ExecutePreprocessor.timeout={EXECUTE_TIMEOUT}",
        f"--ExecutePreprocessor.kernel_name={translation.KERNEL_NAME}",
    ]
    return subprocess.run([*command, str(relative)], cwd=root).returncode


def build_command(root: Path, execute: bool) -> int:
    """``labapp i18n build [--execute]``: compile, generate, say what needs a run (and run it)."""
    from labapp.authoring import message_catalog, translation

    root = Path(root)
    compiled = message_catalog.build_message_catalog(root) if has_package(root) else []
    build = translation.build_workbook(root)
    for line in [f"compiled {path}" for path in compiled] + build.lines:
        print(line)
    if not compiled and not build.lines:
        print("every generated file is up to date")
    waiting = translation.needs_run_lines(build)
    if not execute:
        for line in waiting:
            print(line)
        if waiting:
            print("run them with `labapp i18n build --execute` (or in JupyterLab), then commit their outputs")
        return 0
    if waiting:
        translation.install_kernel()
    failed = []
    for number, path in enumerate(build.needs_run, 1):
        print(
            f"[{number}/{len(build.needs_run)}] running {path.as_posix()} "
            f"with the {translation.KERNEL_DISPLAY_NAME} kernel...",
            flush=True,
        )
        if execute_notebook(root, path) != 0:
            failed.append(path.as_posix())
    if failed:
        return fail(f"these notebooks stopped on an error (see above): {', '.join(failed)}")
    rebuilt = translation.build_workbook(root)  # exercises/pt-BR follow the solutions just run
    for line in rebuilt.lines:
        print(line)
    return 0


def kernel_command() -> int:
    """``labapp i18n kernel``: install the pt-BR kernelspec into this environment."""
    from labapp.authoring import translation

    folder = translation.install_kernel()
    print(f"installed the kernel {translation.KERNEL_NAME!r} ({translation.KERNEL_DISPLAY_NAME}) in {folder}")
    return 0


def cmd_i18n(args) -> int:
    """Update the catalogs, build the pt-BR workbook, or install the pt-BR kernel."""
    root = Path(args.root)
    if args.action == "update":
        return update_command(root)
    if args.action == "build":
        return build_command(root, args.execute)
    return kernel_command()


def register(sub) -> None:
    """Add this group's commands to the ``labapp`` parser."""
    i18n = command(
        sub, "i18n", cmd_i18n, "the Portuguese workbook: update catalogs, build pt-BR files", I18N_DESCRIPTION
    )
    i18n.add_argument("action", choices=("update", "build", "kernel"), help="what to do (see the description)")
    i18n.add_argument("--execute", action="store_true", help="build: also run the notebooks that need a run")
    root_option(i18n)
