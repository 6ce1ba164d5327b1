"""docs/reliability.md names, for each promise, the test that proves it: every name must exist."""

import re

from tests.support import paths

ROOT = paths.ROOT


def test_every_test_named_in_reliability_md_exists():
    text = (ROOT / "docs" / "reliability.md").read_text()
    named, current = [], None
    # `test_x.py::test_name`, or `::test_name` for the file named just before it
    for file, name in re.findall(r"`(?:tests/(?:\w+/)?)?(test_\w+\.py)?::(test_\w+)", text):
        current = file or current
        named.append((current, name))
    assert len(named) >= 10
    missing = [
        f"{file}::{name}"
        for file, name in named  # a file may be in any layer's folder
        if not any(re.search(rf"^def {name}\(", path.read_text(), re.M) for path in (ROOT / "tests").rglob(file))
    ]
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"
