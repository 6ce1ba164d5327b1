"""What a lesson prints and what its prose says about it use the same words (a student compares them)."""

from __future__ import annotations

import json
import re

from tests.support import paths

ROOT = paths.ROOT


def test_lesson_01_prints_the_status_the_prose_names():
    cells = json.loads((ROOT / "notebooks" / "01_why_a_queue.ipynb").read_text())["cells"]
    index = next(
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and 'requests.post(f"{api}/longtask"' in "".join(c["source"])
    )
    printed = "".join("".join(o.get("text", "")) for o in cells[index]["outputs"] if o["output_type"] == "stream")
    status = re.match(r"(202 \S+) in \d+ ms", printed)
    assert status, f"expected '202 <phrase> in N ms', found {printed!r}"
    prose = "".join(cells[index + 1]["source"])
    assert f"**`{status.group(1)}`**" in prose, f"the cell prints {status.group(1)!r}; the prose says: {prose[:120]!r}"
