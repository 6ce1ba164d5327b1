"""The records of a scaling run: its points, with what was measured; a table, HTML or JSON."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from .host import usable_cores

TASKS = {"sleep": "labapp.tasks.sleep_ms", "cpu": "labapp.tasks.cpu_ms"}
COLUMNS = (("workers", "workers", "{:d}"), ("tasks", "tasks", "{:d}"), ("wall_s", "wall s", "{:.2f}"),
           ("throughput", "tasks/s", "{:.1f}"), ("speedup", "speedup", "{:.2f}"),
           ("efficiency", "efficiency", "{:.0%}"))


class BenchRecords(list):
    """The points of one scaling run (dicts), with what was measured; prints as a table."""

    def __init__(self, points=(), *, kind: str | None = None, duration_ms: float | None = None,
                 cores: int | None = None):
        super().__init__(points)
        self.kind = kind
        self.duration_ms = duration_ms
        self.cores = cores or usable_cores()

    @property
    def title(self) -> str:
        """What was measured, in one line."""
        what = f"{self.kind} tasks" if self.kind else "tasks"
        if self.duration_ms is not None:
            what += f" of {self.duration_ms:g} ms"
        return f"{what} on {self.cores} CPU cores"

    def table(self) -> str:
        """The records as a plain-text table."""
        rows = [[label for _, label, _ in COLUMNS]]
        rows += [[fmt.format(p[key]) for key, _, fmt in COLUMNS] for p in self]
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
        lines = ["  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in rows]
        return "\n".join([f"Scaling benchmark: {self.title}", *lines])

    __str__ = __repr__ = table

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{label}</th>" for _, label, _ in COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{fmt.format(p[key])}</td>" for key, _, fmt in COLUMNS)
                       + "</tr>" for p in self)
        return f"<p><b>Scaling benchmark</b>: {self.title}</p><table><tr>{head}</tr>{body}</table>"

    def to_dict(self) -> dict:
        """Everything, JSON-ready: what was measured, where, and the points."""
        import celery

        return {"kind": self.kind, "task": TASKS.get(self.kind), "duration_ms": self.duration_ms,
                "cores": self.cores, "python": platform.python_version(),
                "celery": celery.__version__, "platform": platform.platform(),
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "points": list(self)}

    def save_json(self, path) -> Path:
        """Write to_dict() as JSON; return the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load_json(cls, path) -> "BenchRecords":
        """Read records written by save_json."""
        data = json.loads(Path(path).read_text())
        return cls(data["points"], kind=data["kind"], duration_ms=data["duration_ms"],
                   cores=data.get("cores"))
