"""What the ``labapp`` commands share: argument types, the one error ending, the foreground loop."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from labapp.engine import logfiles
from labapp.i18n import _, language, ngettext, translation


def fail(message, code: int = 1) -> int:
    """Say what went wrong on stderr, as every command does, and give the exit code (1, or 2 for bad input)."""
    print(_("error: {message}").format(message=message), file=sys.stderr)
    return code


def _whole_number(text: str, low: int, high: int | None, not_a_number: str, out_of_range: str) -> int:
    """text as a whole number from low to high; else argparse shows the message (never this function's name)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(not_a_number.format(value=repr(text))) from None
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(out_of_range.format(value=value))
    return value


def worker_count(text: str) -> int:
    """A whole number >= 0 (a worker count)."""
    needed = _("a whole number from 0 up is needed, got {value}")
    return _whole_number(text, 0, None, needed, needed)


def port_number(text: str) -> int:
    """A TCP port, 1 to 65535 (the OS would silently take a larger value modulo 65536)."""
    return _whole_number(
        text, 1, 65535, _("not a port number: {value}"), _("a TCP port is from 1 to 65535, got {value}")
    )


def stop_on_sigterm(*_args):
    raise KeyboardInterrupt  # `kill PID` stops the cluster as cleanly as Ctrl-C


def run_in_foreground(cluster, workers: int, describe, watch=None) -> int:
    """Start a cluster, print describe(cluster), keep it running until Ctrl-C or SIGTERM (calling watch() meanwhile)."""
    from labapp.cluster import ClusterError

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored (`cmd &`)
    print(ngettext("starting {n} worker(s)...", "starting {n} worker(s)...", workers).format(n=workers), flush=True)
    started = time.monotonic()
    try:
        cluster.start()
    except ClusterError as exc:
        return fail(exc)
    except KeyboardInterrupt:
        print("\n" + _("interrupted while starting; stopped"), file=sys.stderr)  # start() cleaned up
        return 130
    try:  # from here on, Ctrl-C at any moment (even mid-print) stops the cluster
        print(_("cluster ready in {seconds:.1f} s").format(seconds=time.monotonic() - started))
        for line in describe(cluster):
            print(line)
        print(_("Press Ctrl-C to stop everything."), flush=True)
        while cluster.running or _revived(cluster):
            if watch is not None:
                watch()
            time.sleep(0.5)
        return fail(
            cluster.core_failure() or _("a core component stopped; see the logs in {folder}").format(folder=cluster.dir)
        )
    except KeyboardInterrupt:
        print("\n" + _("stopping..."), flush=True)
        return 0
    finally:
        cluster.stop()
        print(_("stopped"), flush=True)


def _revived(cluster) -> bool:
    """Restart the cluster's dead API alone where it can, saying so; False when that is not enough."""
    from labapp.cluster import ClusterError

    failure = cluster.core_failure()
    try:
        revived = cluster.revive_api()
    except ClusterError as exc:
        print(_("the API could not be restarted: {error}").format(error=exc), file=sys.stderr, flush=True)
        return False
    if revived:
        print(_("{failure}; restarted it").format(failure=failure), flush=True)
    return revived


shown = logfiles.shown_path  # a path relative to the current folder when it is inside it


def command(sub, name: str, func, help: str, description: str | None = None):
    """A subcommand's parser, wired to the function that runs it."""
    parser = sub.add_parser(name, help=help, description=description or help)
    parser.set_defaults(func=func)
    return parser


def root_option(parser) -> None:
    parser.add_argument("--root", default=".", help=_("the project's folder (default: the current one)"))


def translate_argparse() -> None:
    """argparse's own words ("usage:", "options", its errors) in LABAPP_LANG's language, from our catalog."""
    if language() == "en":
        return
    words = translation(language(), "argparse")
    argparse._ = words.gettext
    argparse.ngettext = words.ngettext
