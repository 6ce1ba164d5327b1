"""Submit a batch of long tasks to a classroom API and follow them, printing JSON lines.

    python classroom_driver.py API_URL --tasks 24 --x 0.5 [--limit 90] [--interval 0.05] [--quiet]

Run inside the teacher's network namespace (``ip netns exec``): it talks to the API on the
private subnet only. Lines: {"event": "submitted", "ids", "t0", "t"}, then one
{"event": "status", "status", "t"} each time a task's state, worker or progress changes (unless
--quiet), then {"event": "done", "complete", "statuses", "t"}. Standard library only.
"""

import argparse
import json
import sys
import time
import urllib.request

FINAL = ("SUCCESS", "FAILURE", "REVOKED")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("api")
    parser.add_argument("--tasks", type=int, default=24)
    parser.add_argument("--x", type=float, default=0.5)
    parser.add_argument("--limit", type=float, default=90.0, help="give up after this many seconds")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between polling rounds")
    parser.add_argument("--quiet", action="store_true", help="no status lines, only the last one")
    args = parser.parse_args()

    def call(method: str, path: str, body=None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            args.api + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def say(**fields) -> None:
        print(json.dumps({**fields, "t": time.time()}), flush=True)

    t0 = time.time()
    ids = [call("POST", "/longtask", {"x": args.x})["task_id"] for _ in range(args.tasks)]
    say(event="submitted", ids=ids, t0=t0)
    last, shown = {}, {}
    deadline = time.monotonic() + args.limit
    while time.monotonic() < deadline:
        for task_id in ids:
            if last.get(task_id, {}).get("state") in FINAL:
                continue
            status = call("GET", f"/status/{task_id}")
            last[task_id] = status
            key = (status["state"], status.get("worker"), json.dumps(status.get("progress")))
            if key != shown.get(task_id) and not args.quiet:
                say(event="status", status=status)
            shown[task_id] = key
        if all(last.get(task_id, {}).get("state") in FINAL for task_id in ids):
            break
        time.sleep(args.interval)
    complete = all(last.get(task_id, {}).get("state") in FINAL for task_id in ids)
    say(event="done", complete=complete, statuses=[last.get(task_id) for task_id in ids])
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
