"""The package's modules and what each imports, read from the source (for the layer and cycle tests)."""

from __future__ import annotations

import ast
from pathlib import Path

import labapp

PACKAGE = Path(labapp.__file__).parent


def module_name(path: Path) -> str:
    """labapp.engine.broker for labapp/engine/broker.py; labapp.api for labapp/api/__init__.py."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, name: str) -> set[str]:
    """The labapp modules a module's source imports, as dotted names (relative imports resolved)."""
    package = name if name.count(".") < 1 else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return {imported for imported in found if imported == "labapp" or imported.startswith("labapp.")}


def all_modules() -> dict[str, str]:
    """Every module of the package: {dotted name: source}."""
    return {module_name(path): path.read_text() for path in sorted(PACKAGE.rglob("*.py"))}
