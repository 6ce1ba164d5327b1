"""Elastic workers (lesson 10, ex07): an autoscaler, a bursty trace, a recorder, and the set-ups compared.

- ``autoscaler``: the controller thread that scales a cluster with the queue, its default policy, its decisions;
- ``trace``: a reproducible bursty arrival trace, replayed at the same offsets in every run;
- ``recorder``: per-task latency, p50 and p95, workers and queue over time, worker-seconds;
- ``setups``: the four set-ups of lesson 10 run on one trace, one tidy result each.

Imports the cluster's engine (heartbeats, the queue's name, run counts); never ``labapp.cli`` or the API's server.
"""

from labapp.elastic.autoscaler import Autoscaler, Decision, QueueLengthPolicy
from labapp.elastic.recorder import Recorder, percentile
from labapp.elastic.setups import Setup, SetupResult, compare, default_setups, print_progress, run_setup
from labapp.elastic.trace import Arrival, Trace, bursty_trace, lesson_trace, short_trace

__all__ = [
    "Arrival",
    "Autoscaler",
    "Decision",
    "QueueLengthPolicy",
    "Recorder",
    "Setup",
    "SetupResult",
    "Trace",
    "bursty_trace",
    "compare",
    "default_setups",
    "lesson_trace",
    "percentile",
    "print_progress",
    "run_setup",
    "short_trace",
]
