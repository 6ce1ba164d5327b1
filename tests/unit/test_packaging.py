"""The two ways to install (pip with pyproject.toml, conda with environment.yml) never drift apart."""

import re
import tomllib

from tests.support import paths

ROOT = paths.ROOT
CONDA_NAMES = {"redis": "redis-py", "matplotlib": "matplotlib-base"}  # PyPI name -> conda-forge name


def requirement(spec: str) -> tuple[str, str]:
    """('name', '>=x.y') from a requirement string."""
    match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(.*)", spec)
    return match.group(1).lower(), match.group(2).split("#")[0].strip()


def test_environment_yml_has_every_pyproject_dependency_with_the_same_lower_bound():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [requirement(s) for s in project["dependencies"] + project["optional-dependencies"]["dev"]]
    listed = dict(
        requirement(line.strip()[2:])
        for line in (ROOT / "environment.yml").read_text().splitlines()
        if line.strip().startswith("- ") and not line.strip().startswith("- pip:")
    )
    missing = [f"{name}{bound}" for name, bound in wanted if listed.get(CONDA_NAMES.get(name, name)) != bound]
    assert not missing, f"environment.yml lacks or pins differently: {missing}"
