"""The ``labapp`` command: one module per command group, as Celery's ``bin/``.

``clusters`` (up, down, status, url, lab), ``cancel``, ``tools`` (env, flower), ``bench``, ``classroom`` (serve, join),
``progress``, ``authoring`` (exercises, reveal, pack) and ``i18n`` (update, build, kernel: the pt-BR workbook) each
``register`` their commands; ``common`` holds what they share, among it ``fail``, the one way a command
reports an error. Nothing outside this package imports it.
"""

from __future__ import annotations

import argparse
import os
import sys

from labapp import __version__
from labapp.cli import authoring, bench, cancel, classroom, clusters, i18n, progress, tools
from labapp.cli.common import translate_argparse
from labapp.i18n import _

GROUPS = (
    clusters,
    cancel,
    tools,
    bench,
    classroom,
    progress,
    authoring,
    i18n,
)  # in the order ``labapp --help`` lists them


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``labapp`` command."""
    parser = argparse.ArgumentParser(
        prog="labapp",
        description=_(
            "Flask + Celery Cluster Lab: an embedded Redis broker, a Flask API and Celery workers on your machine."
        ),
        epilog=_(
            "Examples: `labapp up --workers 4`, `labapp bench --workers 1,2,4,8 --kind sleep`, "
            "`labapp down`; a class on a network: `labapp serve --public --bind 192.168.1.20` "
            "(instructor), `labapp join class.join --workers 2 --name ana` (student). Settings "
            "come from LABAPP_* environment variables."
        ),
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"labapp {__version__}",
        help=_("show program's version number and exit"),  # argparse's own words (3.11 does not translate them)
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``labapp`` command."""
    try:
        return _run(argv)
    except BrokenPipeError:  # `labapp status | head -1`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 1


def _run(argv: list[str] | None) -> int:
    translate_argparse()
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if args.command == "lab":  # jupyter lab's own options pass through, e.g. --port=8890
        args.extra = [a for a in unknown + args.extra if a != "--"]
    elif unknown:
        parser.error(_("unrecognized arguments: {arguments}").format(arguments=" ".join(unknown)))
    return args.func(args) or 0
