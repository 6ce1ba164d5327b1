"""Which cluster a command means, seen from a folder: this one's, one below, the project's above, another's."""

from pathlib import Path

from labapp.engine import registry

PROJECT = Path("/home/ana/lab")


def entry(project: Path, name: str = "default") -> dict:
    """A registry entry of a cluster started in project (its runtime folder project/.labapp)."""
    return {"name": name, "dir": str(project / ".labapp" / name)}


def level(cluster: dict, cwd: Path) -> int:
    return registry.closeness(cluster, cwd / ".labapp", cwd)


def test_this_folders_below_above_and_elsewhere():
    assert level(entry(PROJECT), PROJECT) == registry.HERE
    assert level(entry(PROJECT / "notebooks"), PROJECT) == registry.BELOW
    assert level(entry(PROJECT), PROJECT / "examples" / "class_app") == registry.ABOVE
    assert level(entry(Path("/tmp/other")), PROJECT / "examples" / "class_app") == registry.ELSEWHERE


def test_from_the_class_apps_folder_the_projects_cluster_is_meant_beside_other_folders_clusters():
    """labapp env in examples/class_app (the README's line) while another folder runs a cluster too."""
    ours, other = entry(PROJECT), entry(Path("/tmp/other"))
    cwd = PROJECT / "examples" / "class_app"
    found = registry.closest([("a", other), ("b", ours)], cwd / ".labapp", cwd)
    assert found == [("b", ours)]
