"""What Cluster refuses before starting anything (no process)."""

import pytest

from labapp import Cluster


@pytest.mark.parametrize("bad", [-1, 17, 2.5, True])
def test_worker_count_is_checked_with_a_clear_message(bad):
    with pytest.raises(ValueError, match="workers must be a whole number from 0 to 16"):
        Cluster(workers=bad)


@pytest.mark.parametrize(
    "parts, expected",
    [
        (
            dict(workers=6, extras=("flower",), api=True, broker="embedded"),
            "stopped cluster 'c': 6 workers, Flower, the API and the broker",
        ),
        (
            dict(workers=2, api=True, broker="external"),
            "stopped cluster 'c': 2 workers and the API (the broker is external: it keeps running)",
        ),
        (dict(api=True, broker="embedded"), "stopped cluster 'c': the API and the broker"),
        (dict(broker="embedded"), "stopped cluster 'c': the broker"),
        (dict(), "cluster 'c' was not running: nothing to stop"),
    ],
)
def test_the_stop_sentence_names_every_part(parts, expected):
    from labapp.cluster import Stopped

    assert repr(Stopped("c", **parts)) == expected


def test_a_notebook_shows_the_stop_sentence_as_the_cells_output():
    from IPython.lib.pretty import pretty

    from labapp.cluster import Stopped

    assert (
        pretty(Stopped("c", workers=2, api=True, broker="embedded"))
        == "stopped cluster 'c': 2 workers, the API and the broker"
    )


def test_a_log_shows_as_its_lines_in_a_notebook(tmp_path):
    from IPython.lib.pretty import pretty

    cluster = Cluster(runtime_dir=str(tmp_path))
    cluster.dir.mkdir(parents=True)
    (cluster.dir / "w1.log").write_text("one\ntwo\nw1@host ready.\n")
    lines = cluster.logs("w1", tail=2)
    assert lines == "two\nw1@host ready." and lines.endswith("ready.")  # still a str for code that reads it
    assert pretty(lines) == "two\nw1@host ready."  # a cell's output: the lines, not 'two\\nw1@host ready.'
