"""Small helpers the lessons call: compare a guess with a measurement, follow a task's states."""

from __future__ import annotations

import json
import os
import statistics
import textwrap
import time

from labapp.cluster import UNACKED
from labapp.i18n import _, ngettext


def compare(guess, measured: float, unit: str = "s") -> None:
    """Print "you guessed X, it took Y"; a guess left as ``...`` is fine."""
    if guess is ... or guess is None:
        text = _("no guess this time; it took {measured:.2f} {unit}").format(measured=measured, unit=unit)
    else:
        ratio = measured / guess if guess else float("inf")
        verdict = (
            _("close")
            if 0.8 <= ratio <= 1.25
            else _("it was slower than you thought")
            if ratio > 1
            else _("it was faster than you thought")
        )
        text = _("you guessed {guess:g} {unit}, it took {measured:.2f} {unit}: {verdict}").format(
            guess=guess, unit=unit, measured=measured, verdict=verdict
        )
    print(text)


def follow(client, task_id: str, timeout: float = 60.0, interval: float = 0.05, quiet: bool = False) -> dict:
    """Poll GET /status until the task ends; print each new state with the seconds since the call."""
    start = time.monotonic()
    last_state = None
    while True:
        answer = client.status(task_id)
        elapsed = time.monotonic() - start
        if answer["state"] != last_state and not quiet:
            detail = ""
            if "progress" in answer:
                detail = "  " + _("(step {step} of {total})").format(
                    step=answer["progress"]["current"] + 1, total=answer["progress"]["total"]
                )
            print(f"{elapsed:6.2f} s  {answer['state']}{detail}")
        last_state = answer["state"]
        if answer["state"] in ("SUCCESS", "FAILURE", "REVOKED"):
            return answer
        if elapsed > timeout:
            print(
                _("still {state} after {timeout:g} s: is a worker running? (cluster.status())").format(
                    state=last_state, timeout=timeout
                )
            )
            return answer
        time.sleep(interval)


def plateau(records, share: float = 0.9) -> int | None:
    """The fewest workers that reached ``share`` of the best throughput; None if only the last point did."""
    points = sorted(records, key=lambda p: p["workers"])
    best = max(p["throughput"] for p in points)
    first = next(p["workers"] for p in points if p["throughput"] >= share * best)
    return None if first == points[-1]["workers"] else first


def busy_machine_warning(cores: int) -> str | None:
    """A warning when other programs keep the CPU busy (measurements would be noisy), else None."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every system
        return None
    if load <= max(1.0, 0.75 * cores):
        return None
    return ngettext(
        "this machine is busy: {load:.1f} processes were waiting for the CPU on average over the last "
        "minute, for {cores} core. Other programs will take their share, and "
        "the numbers below will be noisy: close what you can, and run again for a cleaner picture.",
        "this machine is busy: {load:.1f} processes were waiting for the CPU on average over the last "
        "minute, for {cores} cores. Other programs will take their share, and "
        "the numbers below will be noisy: close what you can, and run again for a cleaner picture.",
        cores,
    ).format(load=load, cores=cores)


SUSPECT_EFFICIENCY = 1.2  # a little above 100% is noise the lesson explains; this much is a slow first point


def scaling_conclusions(sleep_records, cpu_records, cores: int) -> list[str]:
    """Sentences about a sleep and a cpu scaling run, computed from their numbers and the cores."""
    sleep = sorted(sleep_records, key=lambda p: p["workers"])
    most = sleep[-1]
    lines = [
        ngettext(
            "sleep tasks: {most} workers gave {speedup:.1f}× the throughput of "
            "{fewest} ({efficiency:.0%} efficiency); waiting tasks do not need "
            "a core each, so they scale past the {cores} core you have.",
            "sleep tasks: {most} workers gave {speedup:.1f}× the throughput of "
            "{fewest} ({efficiency:.0%} efficiency); waiting tasks do not need "
            "a core each, so they scale past the {cores} cores you have.",
            cores,
        ).format(
            most=most["workers"],
            speedup=most["speedup"],
            fewest=sleep[0]["workers"],
            efficiency=most["efficiency"],
            cores=cores,
        )
    ]
    if most["efficiency"] > SUSPECT_EFFICIENCY:
        lines.append(
            _(
                "An efficiency of {efficiency:.0%} is more than the workers can give: the {fewest}-worker "
                "point was slowed by something else (the workers warming up, another program). "
                "Run the measurement again before you draw a conclusion from it."
            ).format(efficiency=most["efficiency"], fewest=sleep[0]["workers"])
        )
    cpu = sorted(cpu_records, key=lambda p: p["workers"])
    stop = plateau(cpu)
    best = max(cpu, key=lambda p: p["throughput"])
    if stop is None and cpu[-1]["workers"] > cores:
        lines.append(
            _(
                "cpu tasks kept scaling up to {workers} workers ({speedup:.1f}×), more than your {cores} cores "
                "allow: other programs were using the CPU, and more workers took a larger share of it. Close "
                "what you can and measure again."
            ).format(workers=cpu[-1]["workers"], speedup=cpu[-1]["speedup"], cores=cores)
        )
        return lines
    if stop is None:
        lines.append(
            _(
                "cpu tasks kept scaling up to {workers} workers "
                "({speedup:.1f}×): your {cores} cores left room for every worker."
            ).format(workers=cpu[-1]["workers"], speedup=cpu[-1]["speedup"], cores=cores)
        )
        return lines
    lines.append(
        ngettext(
            "cpu tasks stopped scaling at {stop} worker: "
            "{stop} already reached 90% of the best throughput ({best:.1f} tasks/s at "
            "{workers} workers); more workers only took turns on the same cores.",
            "cpu tasks stopped scaling at {stop} workers: "
            "{stop} already reached 90% of the best throughput ({best:.1f} tasks/s at "
            "{workers} workers); more workers only took turns on the same cores.",
            stop,
        ).format(stop=stop, best=best["throughput"], workers=best["workers"])
    )
    if stop == cores:
        lines.append(
            ngettext(
                "That is the {cores} core this notebook may use: "
                "one computing task per core is all a machine can run at once.",
                "That is the {cores} cores this notebook may use: "
                "one computing task per core is all a machine can run at once.",
                cores,
            ).format(cores=cores)
        )
    elif stop < cores:
        lines.append(
            _(
                "That is fewer than the {cores} cores this notebook may use: other programs "
                "(the API, the broker, your browser) took their share of the CPU."
            ).format(cores=cores)
        )
    else:
        lines.append(
            _(
                "That is more than the {cores} cores this notebook may use: at fewer workers, other "
                "programs were taking CPU time that more workers then claimed for themselves. Close "
                "other programs and run again for a cleaner picture."
            ).format(cores=cores)
        )
    return lines


# ----------------------------------------------------------------- lesson 02 and 06: redelivery
UNACKED_INDEX = "unacked_index"  # kombu's sorted set: delivery tag -> when a worker took the message


def taken_at(cluster, task_id: str) -> float | None:
    """When a worker took the task (epoch seconds): the stamp on the broker's copy in ``unacked``.

    None once the task was acked, or while its message waits in the queue.
    """
    for tag, raw in cluster.redis.hscan_iter(UNACKED):
        if json.loads(raw)[0].get("headers", {}).get("id") == task_id:
            return cluster.redis.zscore(UNACKED_INDEX, tag)
    return None


def redelivery_account(cluster, submitted: float, taken: float | None, result: dict) -> str:
    """Where every second went between a killed task's submission and its end on another worker."""
    options = cluster.celery.conf.broker_transport_options
    return account_redelivery(
        submitted,
        taken,
        result,
        visibility_timeout=options["visibility_timeout"],
        sweep_s=options["unacked_restore_interval"],
    )


def account_redelivery(
    submitted: float, taken: float | None, result: dict, *, visibility_timeout: float, sweep_s: float
) -> str:
    """redelivery_account from numbers, as a sum whose shown parts add up to the shown total."""
    # a client may stamp its submission once the API answered, after a worker took the task
    taken = submitted if taken is None else max(taken, submitted)
    total = round(result["finished"] - submitted, 1)
    queued = round(taken - submitted, 1)
    work = round(result["finished"] - result["started"], 1)
    back = max(0.0, round(total - queued - visibility_timeout - work, 1))  # what the other parts leave
    return "\n".join(
        [
            _("it finished {total:.1f} s after it was submitted:").format(total=total),
            _("  {seconds:4.1f} s  until the killed worker took it").format(seconds=queued),
            _("+ {seconds:4.1f} s  the visibility timeout, counted from then").format(seconds=visibility_timeout),
            _(
                "+ {seconds:4.1f} s  until a live worker's check for overdue tasks (every {sweep:g} s) requeued it"
            ).format(seconds=back, sweep=sweep_s),
            _("+ {seconds:4.1f} s  of work again, on another worker").format(seconds=work),
            f"= {total:4.1f} s",
        ]
    )


def wait_for_tasks(client, ids: list[str], timeout: float, interval: float = 0.5) -> list[str]:
    """Poll GET /status for every task until all have ended or ``timeout`` s passed; return their states.

    Says first how long it may wait, and shows the states as they change (a live line in a notebook).
    """
    print(
        ngettext(
            "waiting up to {timeout:g} s for {n} task to end...",
            "waiting up to {timeout:g} s for {n} tasks to end...",
            len(ids),
        ).format(timeout=timeout, n=len(ids))
    )
    line = _live_label()
    start = time.monotonic()
    while True:
        states = [client.status(task_id)["state"] for task_id in ids]
        waited = time.monotonic() - start
        ended = all(state in ("SUCCESS", "FAILURE", "REVOKED") for state in states)
        if line is not None:
            counts = ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states)))
            when = (
                _("all ended after {waited:.0f} s")
                if ended
                else _("stopped waiting after {waited:.0f} s")
                if waited >= timeout
                else _("{waited:.0f} s of at most {timeout:g} s")
            ).format(waited=waited, timeout=timeout)
            line.value = f"{counts} · {when}"
        if ended or waited >= timeout:
            return states
        time.sleep(interval)


def _live_label():
    """A text line shown in the current cell and updated in place, or None outside a notebook."""
    import ipywidgets

    from labapp.live import show_in_cell

    return show_in_cell(lambda: ipywidgets.Label(value=""))


# ----------------------------------------------------------------- lesson 06: the price of safety
DELIVERY_LABELS = {"at_least_once": "at-least-once", "early_ack": "early ack"}


class DeliveryRounds:
    """Tasks per second of tiny tasks under both delivery guarantees, round by round."""

    def __init__(self, at_least_once: list[float], early_ack: list[float], tasks: int, workers: int):
        self.at_least_once = at_least_once
        self.early_ack = early_ack
        self.tasks = tasks
        self.workers = workers

    def sentence(self, width: int = 90) -> str:
        """What the rounds say about the price of at-least-once (see delivery_price), in lines of
        ``width`` at most: a notebook breaks longer output lines inside words."""
        return textwrap.fill(delivery_price(self.at_least_once, self.early_ack), width)

    def __repr__(self) -> str:
        rows = [(_("round"), "at-least-once", "early ack", _("early ÷ at-least-once"))]
        for n, (safe, fast) in enumerate(zip(self.at_least_once, self.early_ack), 1):
            rows.append((str(n), f"{safe:.0f}/s", f"{fast:.0f}/s", f"{fast / safe:.2f}×"))
        rows.append(
            (
                _("median"),
                f"{statistics.median(self.at_least_once):.0f}/s",
                f"{statistics.median(self.early_ack):.0f}/s",
                f"{statistics.median(_ratios(self.at_least_once, self.early_ack)):.2f}×",
            )
        )
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
        head = _("{tasks} tasks of 0 ms per round, {workers} workers:").format(tasks=self.tasks, workers=self.workers)
        return "\n".join([head] + lines)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


def _ratios(at_least_once: list[float], early_ack: list[float]) -> list[float]:
    return [fast / safe for safe, fast in zip(at_least_once, early_ack)]


def delivery_price(at_least_once: list[float], early_ack: list[float]) -> str:
    """One sentence on the price of at-least-once, from tasks/s measured in alternating rounds.

    A round is a pair (one batch of each, back to back). Only when all rounds but one in
    five agree on which is faster does the sentence say so; else the difference is noise.
    """
    if len(at_least_once) != len(early_ack) or not at_least_once:
        raise ValueError(
            _("expected as many rounds of each delivery, found {first} and {second}").format(
                first=len(at_least_once), second=len(early_ack)
            )
        )
    rounds = len(at_least_once)
    ratio = statistics.median(_ratios(at_least_once, early_ack))
    faster = sum(fast > safe for safe, fast in zip(at_least_once, early_ack))
    slower = sum(fast < safe for safe, fast in zip(at_least_once, early_ack))
    agree = rounds - rounds // 5  # rounds that must agree for a verdict
    if rounds >= 4 and faster >= agree:
        return _(
            "early ack ran {ratio:.2f}× the tasks per second of at-least-once on tiny tasks (the median of "
            "{rounds} rounds; faster in {faster} of them): at-least-once costs {share} of the "
            "throughput here, and loses nothing."
        ).format(ratio=ratio, rounds=rounds, faster=faster, share=_share(1 - 1 / ratio))
    if rounds >= 4 and slower >= agree:
        return _(
            "at-least-once ran {ratio:.2f}× the tasks per second of early ack here (the median of {rounds} "
            "rounds; faster in {slower} of them): its extra round trips to Redis did not show as a cost on "
            "this machine, now. Run again on a quieter one to see their price."
        ).format(ratio=1 / ratio, rounds=rounds, slower=slower)
    ratios = _ratios(at_least_once, early_ack)
    return _(
        "early ack ran {ratio:.2f}× the tasks per second of at-least-once (the median of {rounds} rounds), "
        "but the rounds went from {low:.2f}× to {high:.2f}×, faster in {faster} and slower in "
        "{slower}: the difference is within the noise of this machine: run again on a quieter one."
    ).format(ratio=ratio, rounds=rounds, low=min(ratios), high=max(ratios), faster=faster, slower=slower)


def _share(fraction: float) -> str:
    """A fraction as a percentage; "under 1%" rather than a 0% that reads as free."""
    return _("under 1%") if fraction < 0.005 else f"{fraction:.0%}"


def measure_deliveries(at_least_once, early_ack, workers: int = 2, tasks: int = 200, rounds: int = 8) -> DeliveryRounds:
    """Throughput of 0 ms tasks on two clusters, one per delivery guarantee, in alternating rounds.

    Each round runs one batch on each cluster, back to back, the first one alternating
    (A B, B A, ...), so that a burst of load from other programs hits both alike.
    """
    from labapp.bench import TASKS, Progress, run_batch, warm_up

    clusters = {"at_least_once": at_least_once, "early_ack": early_ack}
    for delivery, cluster in clusters.items():
        if cluster.settings.delivery != delivery:
            raise ValueError(
                _("expected a cluster with delivery={wanted} as {name}, found {found}").format(
                    wanted=repr(delivery), name=delivery, found=repr(cluster.settings.delivery)
                )
            )
    if rounds < 4:
        raise ValueError(_("rounds must be at least 4 for a verdict, got {rounds}").format(rounds=rounds))
    throughput: dict[str, list[float]] = {"at_least_once": [], "early_ack": []}
    for cluster in clusters.values():
        cluster.scale(workers)
        warm_up(cluster.celery, TASKS["sleep"], workers)
    bar = Progress(2 * rounds * tasks)
    done = False
    try:
        for number in range(rounds):
            order = list(clusters) if number % 2 == 0 else list(reversed(clusters))
            for delivery in order:
                bar.describe(
                    _("round {number} of {rounds}: {delivery}").format(
                        number=number + 1, rounds=rounds, delivery=DELIVERY_LABELS[delivery]
                    )
                )
                batch = run_batch(clusters[delivery].celery, TASKS["sleep"], {"ms": 0}, tasks, progress=bar)
                throughput[delivery].append(tasks / batch["wall_s"])
        done = True
    finally:
        bar.close(ok=done)
    return DeliveryRounds(throughput["at_least_once"], throughput["early_ack"], tasks, workers)
