"""A file per running cluster, so `labapp down` can stop clusters whose kernel died."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import psutil

from . import procs


def process_identity(pid: int) -> dict:
    """pid plus its start time, so a reused pid is never mistaken for our child."""
    try:
        return {"pid": pid, "started": psutil.Process(pid).create_time()}
    except psutil.Error:
        return {"pid": pid, "started": None}


def is_same_process(identity: dict) -> bool:
    """True when the recorded process is still the one running under that pid."""
    try:
        proc = psutil.Process(identity["pid"])
        return (proc.status() != psutil.STATUS_ZOMBIE
                and abs(proc.create_time() - (identity.get("started") or 0)) < 0.5)
    except psutil.Error:
        return False


def entry_path(registry_dir: Path, cluster_dir: Path) -> Path:
    """The registry file of the cluster that lives in cluster_dir."""
    safe = str(cluster_dir).strip("/").replace("/", "_") or "root"
    return registry_dir / f"{safe}.json"


def write_entry(path: Path, entry: dict) -> None:
    """Atomically write a registry entry (private: it holds the broker password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entry, indent=2))
    tmp.chmod(0o600)
    os.replace(tmp, path)


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
    return is_same_process(entry["owner"])


def stop_entry(path: Path, entry: dict) -> list[str]:
    """Kill every recorded child still alive (whole process groups), drop the entry; list what stopped."""
    stopped = []
    for child in entry.get("children", []):
        if is_same_process(child):
            procs.kill_group(child["pid"], signal.SIGKILL)
            stopped.append(f"{child['component']} (pid {child['pid']})")
    path.unlink(missing_ok=True)
    return stopped


# Which cluster a command means: the one whose runtime folder is the one a cluster started here
# would use (./.labapp, or LABAPP_RUNTIME_DIR), else one in a folder below this one, else any.
HERE, BELOW, ELSEWHERE = 0, 1, 2


def closeness(entry: dict, runtime_here: Path, cwd: Path) -> int:
    """HERE, BELOW or ELSEWHERE: where the entry's cluster lives, seen from cwd."""
    folder = Path(entry.get("dir", "/")).parent
    if folder == runtime_here:
        return HERE
    return BELOW if folder.is_relative_to(cwd) else ELSEWHERE


def project_folder(entry: dict) -> Path:
    """The folder a cluster belongs to: the one holding its .labapp/, else its runtime folder."""
    runtime = Path(entry.get("dir", "/")).parent
    return runtime.parent if runtime.name == ".labapp" else runtime


def closest(entries: list, runtime_here: Path, cwd: Path) -> list:
    """The (path, entry) pairs at the closest level that has any: one means that one is meant."""
    for level in (HERE, BELOW, ELSEWHERE):
        found = [pair for pair in entries if closeness(pair[1], runtime_here, cwd) <= level]
        if found:
            return found
    return []
