"""Settings read from ``LABAPP_*`` environment variables, with safe defaults."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

ENV_PREFIX = "LABAPP_"


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


# the delivery guarantee (lesson 06 measures both):
# at_least_once: ack after the task ran, prefetch 1; a killed worker's task runs again elsewhere
# early_ack: Celery's defaults, ack on receipt, prefetch 4; faster, and a killed worker's tasks are lost
DELIVERIES = ("at_least_once", "early_ack")

# settings that must be above zero (the other numbers may be zero, none may be negative)
POSITIVE = {"visibility_timeout", "max_body_bytes", "result_expires", "broker_timeout", "log_max_mb"}


@dataclass(frozen=True)
class Settings:
    """Every tunable of the lab, with the default a student gets."""

    broker_url: str = ""  # empty: start the embedded broker
    runtime_dir: str = ".labapp"  # logs and broker data, one folder per cluster
    registry_dir: str = "~/.cache/labapp/clusters"  # what `labapp down` reads
    longtask_max_x: float = 20.0  # seconds of simulated work, bounded
    factorial_max_n: int = 20000
    bench_max_ms: int = 10000  # sleep_ms / cpu_ms bound
    result_expires: int = 3600  # seconds; submit records expire with results
    # An unacked task whose worker died comes back after this many seconds.
    # Tasks running longer than this are delivered twice (kombu's Redis
    # transport), so it must stay above longtask_max_x.
    visibility_timeout: int = 30
    # Every task's time limits, in seconds (0: derived from the two settings around them). Past the
    # soft limit a task gets an exception and ends FAILURE ("ran past its time limit"); past the hard
    # one its process is killed. Both lie between longtask_max_x (the longest lesson task) and the
    # visibility timeout: a task still running then would be delivered to a second worker, and an
    # endless loop would take every worker in turn. Derived: halfway (soft) and three quarters of
    # the way (hard) from longtask_max_x to visibility_timeout (25 s and 27.5 s by default).
    task_soft_time_limit: float = 0.0
    task_time_limit: float = 0.0
    max_body_bytes: int = 16 * 1024
    # Host names the API answers to besides 127.0.0.1, localhost and [::1] (comma-separated):
    # empty on a student's machine, so a hostile page cannot reach it by DNS rebinding.
    allowed_hosts: str = ""
    max_workers: int = 16  # each worker is ~100 MB of memory: a guard for laptops
    # CPU priority of worker processes (nice, 0-19): busy workers yield the cores to the API
    # and the broker, whose answers are what a user waits for (benchmarks/api_latency.py)
    worker_nice: int = 10
    broker_timeout: float = 2.0  # seconds for one broker operation from the API
    # Task events feed monitors (lesson 07 turns them on at run time with
    # control.enable_events()); off by default, they cost tiny tasks ~30% throughput.
    task_events: bool = False
    delivery: str = "at_least_once"  # or "early_ack" (Celery's defaults): see DELIVERIES
    # where reveal() reads solutions the instructor published: a folder or a redis:// URL;
    # empty: ~/.cache/labapp/revealed (and reveal() asks the student when solutions/ is present)
    reveal_from: str = ""
    # a worker's log is cut back (with a marker line) once it passes this many MB: a print loop
    # in a student's task cannot fill the disk
    log_max_mb: float = 10.0

    @classmethod
    def from_env(cls, environ: dict | None = None, **overrides) -> "Settings":
        """Build settings from ``LABAPP_*`` variables, then apply overrides."""
        environ = os.environ if environ is None else environ
        values = {}
        for field in fields(cls):
            raw = environ.get(ENV_PREFIX + field.name.upper())
            if raw is None or raw == "":
                continue
            kind = type(field.default)
            try:
                values[field.name] = _parse_bool(raw) if kind is bool else kind(raw)
            except ValueError:
                raise ValueError(f"{ENV_PREFIX}{field.name.upper()}={raw!r} is not a valid {kind.__name__}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise ValueError for a nonsense value (NaN, negative) or two settings that contradict."""
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if value != value or value in (float("inf"), float("-inf")):  # NaN fails every bound
                    raise ValueError(f"{ENV_PREFIX}{field.name.upper()} must be a finite number, got {value}")
                low = 1 if field.name in POSITIVE else 0
                if value < low:
                    raise ValueError(f"{ENV_PREFIX}{field.name.upper()} must be >= {low}, got {value}")
        if self.delivery not in DELIVERIES:
            raise ValueError(f"{ENV_PREFIX}DELIVERY must be one of {', '.join(DELIVERIES)}, got {self.delivery!r}")
        if self.worker_nice > 19:
            raise ValueError(f"{ENV_PREFIX}WORKER_NICE must be from 0 to 19, got {self.worker_nice}")
        if self.visibility_timeout <= self.longtask_max_x:
            raise ValueError(
                f"visibility_timeout ({self.visibility_timeout} s) must exceed "
                f"longtask_max_x ({self.longtask_max_x} s), or long tasks run twice"
            )
        self._validate_time_limits()

    def _validate_time_limits(self) -> None:
        """longtask_max_x < soft limit <= hard limit < visibility_timeout, or say which one to raise."""
        soft, hard = self.soft_time_limit, self.hard_time_limit
        if soft <= self.longtask_max_x:
            raise ValueError(
                f"task_soft_time_limit ({soft:g} s) must exceed longtask_max_x ({self.longtask_max_x:g} s), "
                "or the longest long_task would fail"
            )
        if hard < soft:
            raise ValueError(f"task_time_limit ({hard:g} s) must be at least task_soft_time_limit ({soft:g} s)")
        if hard >= self.visibility_timeout:
            raise ValueError(
                f"task_time_limit ({hard:g} s) must stay below visibility_timeout ({self.visibility_timeout} s), "
                "or a task still running then is delivered to a second worker: raise visibility_timeout with it"
            )

    @property
    def soft_time_limit(self) -> float:
        """Seconds a task may run before it gets SoftTimeLimitExceeded (task_soft_time_limit, or derived)."""
        if self.task_soft_time_limit:
            return float(self.task_soft_time_limit)
        halfway = self.longtask_max_x + (self.visibility_timeout - self.longtask_max_x) / 2
        return float(min(halfway, self.task_time_limit)) if self.task_time_limit else halfway

    @property
    def hard_time_limit(self) -> float:
        """Seconds a task may run before its process is killed (task_time_limit, or derived)."""
        if self.task_time_limit:
            return float(self.task_time_limit)
        three_quarters = self.longtask_max_x + (self.visibility_timeout - self.longtask_max_x) * 3 / 4
        return max(three_quarters, self.soft_time_limit)

    def to_env(self) -> dict[str, str]:
        """Render as ``LABAPP_*`` variables for a child process."""
        return {ENV_PREFIX + k.upper(): str(v) for k, v in asdict(self).items()}

    def with_(self, **changes) -> "Settings":
        """Return a copy with some fields changed."""
        return replace(self, **changes)

    @property
    def registry_path(self) -> Path:
        """The registry directory as an absolute path."""
        return Path(self.registry_dir).expanduser().resolve()

    @property
    def runtime_path(self) -> Path:
        """The runtime directory as an absolute path."""
        return Path(self.runtime_dir).expanduser().resolve()
