"""A file per running cluster, so `labapp down` can stop clusters whose kernel died."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from labapp.engine import processes, runtime_folder


def entry_path(registry_dir: Path, cluster_dir: Path) -> Path:
    """The registry file of the cluster that lives in cluster_dir."""
    safe = str(cluster_dir).strip("/").replace("/", "_") or "root"
    return registry_dir / f"{safe}.json"


def write_entry(path: Path, entry: dict) -> None:
    """Atomically write a registry entry (private: it holds the broker password)."""
    runtime_folder.write_private_file(path, json.dumps(entry, indent=2))


def read_entries(registry_dir: Path) -> list[tuple[Path, dict]]:
    """Every readable registry entry, with its path."""
    found = []
    for path in sorted(registry_dir.glob("*.json")):
        try:
            found.append((path, json.loads(path.read_text())))
        except (OSError, ValueError):
            continue
    return found


def owner_alive(entry: dict) -> bool:
    """True when the process that started the cluster is still running."""
    return processes.is_same_process(entry["owner"])


def stop_entry(path: Path, entry: dict) -> list[str]:
    """Kill every recorded child still alive (whole process groups), drop the entry; list what stopped."""
    stopped = []
    for child in entry.get("children", []):
        if processes.is_same_process(child):
            processes.kill_group(child["pid"], signal.SIGKILL)
            stopped.append(f"{child['component']} (pid {child['pid']})")
    path.unlink(missing_ok=True)
    return stopped


# Which cluster a command means: the one whose runtime folder is the one a cluster started here
# would use (./.labapp, or LABAPP_RUNTIME_DIR), else one in a folder below this one, else the one of
# the project this folder is in (examples/class_app of the lab's folder), else any.
HERE, BELOW, ABOVE, ELSEWHERE = 0, 1, 2, 3


def closeness(entry: dict, runtime_here: Path, cwd: Path) -> int:
    """HERE, BELOW, ABOVE or ELSEWHERE: where the entry's cluster lives, seen from cwd."""
    folder = Path(entry.get("dir", "/")).parent
    if folder == runtime_here:
        return HERE
    if folder.is_relative_to(cwd):
        return BELOW
    return ABOVE if cwd.is_relative_to(project_folder(entry)) else ELSEWHERE


def project_folder(entry: dict) -> Path:
    """The folder a cluster belongs to: the one holding its .labapp/, else its runtime folder."""
    runtime = Path(entry.get("dir", "/")).parent
    return runtime.parent if runtime.name == ".labapp" else runtime


def closest(entries: list, runtime_here: Path, cwd: Path) -> list:
    """The (path, entry) pairs at the closest level that has any: one means that one is meant."""
    for level in (HERE, BELOW, ABOVE, ELSEWHERE):
        found = [pair for pair in entries if closeness(pair[1], runtime_here, cwd) <= level]
        if found:
            return found
    return []
