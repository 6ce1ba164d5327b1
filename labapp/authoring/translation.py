"""The Portuguese (pt-BR) workbook: catalogs of the English notebooks and docs, the generated twins, their checks.

English is the source. Each English notebook (``notebooks/``, ``solutions/``) and doc (``README.md``,
``docs/classroom.md``, ``docs/exercises.md``) has a gettext catalog in ``labapp/locale/pt_BR/workbook/``
(the path without its suffix, ``.po``):
- a notebook: one entry per markdown cell and per code cell whose source holds ``#``, ``"`` or ``'``;
  msgctxt = the cell id, msgid = the English source, msgstr = the Portuguese source;
- a markdown file: one entry per block (blank-line separated, a fenced code block whole), no msgctxt.

``update_workbook_catalogs`` brings the catalogs up to date with the sources (a changed cell keeps its old
translation, marked fuzzy, with the previous msgid); ``build_workbook`` writes ``notebooks/pt-BR``,
``solutions/pt-BR``, ``exercises/pt-BR`` (by the exercise generator), ``README.pt-BR.md`` and ``docs/pt-BR``;
``workbook_problems`` lists, in plain words, what is missing, stale, untranslated or not the same program.
An untranslated or fuzzy entry builds as its English source, as gettext does.
"""

from __future__ import annotations

import ast
import copy
import difflib
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from labapp.authoring import exercises

LANG, FOLDER = "pt_BR", "pt-BR"  # the catalogs' locale; the generated files' folder
# the exercises' stubs in Portuguese (a comment only: the program stays the English one's)
STUBS = {"code": ("# SEU CÓDIGO AQUI", "raise NotImplementedError"), "text": ("SUA RESPOSTA AQUI",)}
CATALOGS = Path("labapp/locale") / LANG / "workbook"
NOTEBOOK_FOLDERS = (Path("notebooks"), Path(exercises.SOLUTIONS))
DOCS = (Path("README.md"), Path("docs/classroom.md"), Path("docs/exercises.md"))
KERNEL_NAME, KERNEL_DISPLAY_NAME = "python3-pt-br", "Python 3 (pt-BR)"
KERNEL_ENV = {"LABAPP_LANG": LANG}  # the one difference from the python3 kernel: the package speaks Portuguese
KERNELSPEC = {"display_name": KERNEL_DISPLAY_NAME, "language": "python", "name": KERNEL_NAME}
VOLATILE_METADATA = ("language_info", "widgets")  # written by each run: kept from the pt-BR notebook
_SOLUTION_MARKER = re.compile(r"^\s*(<!--\s*)?### (BEGIN|END) (SOLUTION|HIDDEN CHECKS)")
_LINK = re.compile(r"(\]\()([^)\s]+)(\))")


# ---- what the catalogs hold --------------------------------------------------------------------


def cell_needs_entry(cell) -> bool:
    """True for a markdown cell, or a code cell with a comment or a string literal (po_skeleton's rule)."""
    if not cell.source.strip():
        return False
    if cell.cell_type == "markdown":
        return True
    return cell.cell_type == "code" and any(mark in cell.source for mark in "#\"'")


def markdown_blocks(text: str) -> list[str]:
    """The blocks of a markdown text: paragraphs split on blank lines, fenced code kept whole."""
    blocks, current, fenced = [], [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def english_notebooks(root: Path) -> list[Path]:
    """The English notebooks that have pt-BR twins, relative to root: notebooks/ then solutions/."""
    root = Path(root)
    return [path.relative_to(root) for folder in NOTEBOOK_FOLDERS for path in sorted((root / folder).glob("*.ipynb"))]


def english_sources(root: Path) -> list[Path]:
    """Every English file with a catalog, relative to root: the notebooks, then the docs that exist."""
    return english_notebooks(root) + [doc for doc in DOCS if (Path(root) / doc).exists()]


def catalog_path(source: Path) -> Path:
    """Where the catalog of an English file lives, relative to the project root."""
    return CATALOGS / Path(source).with_suffix(".po")


def twin_path(source: Path) -> Path:
    """The generated pt-BR file of an English file, relative to the project root."""
    source = Path(source)
    if source.parent == Path("."):
        return source.with_name(f"{source.stem}.{FOLDER}{source.suffix}")  # README.pt-BR.md
    return source.parent / FOLDER / source.name


@dataclass
class Wanted:
    """One entry a source needs: msgctxt (a cell id, or None for a doc block), msgid, where, what."""

    context: str | None
    msgid: str
    line: str
    comment: str = ""


def wanted_entries(root: Path, source: Path) -> list[Wanted]:
    """The entries the catalog of one English file must hold, in the file's order."""
    path = Path(root) / source
    if source.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        return [
            Wanted(cell.id, cell.source, str(number), f"{cell.cell_type} cell")
            for number, cell in enumerate(nb.cells)
            if cell_needs_entry(cell)
        ]
    wanted, seen = [], set()
    for block in markdown_blocks(path.read_text(encoding="utf-8")):
        if block not in seen:
            seen.add(block)
            wanted.append(Wanted(None, block, ""))
    return wanted


def new_catalog():
    """An empty pt_BR catalog with the header po_skeleton writes."""
    import polib

    po = polib.POFile(wrapwidth=0)
    po.metadata = {
        "Project-Id-Version": "flask-celery-cluster-lab",
        "Language": LANG,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
        "Plural-Forms": "nplurals=2; plural=(n > 1);",
    }
    return po


def read_catalog(root: Path, source: Path):
    """The catalog of one English file (polib), or None when it does not exist."""
    import polib

    path = Path(root) / catalog_path(source)
    return polib.pofile(str(path), wrapwidth=0) if path.exists() else None


def translations(po) -> dict[tuple[str | None, str], str]:
    """(msgctxt, msgid) -> msgstr for the translated entries that are not fuzzy (what a build uses)."""
    if po is None:
        return {}
    return {(e.msgctxt, e.msgid): e.msgstr for e in po if e.msgstr and "fuzzy" not in e.flags and not e.obsolete}


# ---- update ------------------------------------------------------------------------------------


def _closest(msgid: str, candidates: list) -> object | None:
    """The translated old entry most like a changed doc block (difflib, as Babel's update), else None."""
    best, best_ratio = None, 0.6
    for entry in candidates:
        ratio = difflib.SequenceMatcher(None, entry.msgid, msgid).ratio()
        if ratio > best_ratio:
            best, best_ratio = entry, ratio
    return best


def _updated_entry(old, want: Wanted, source: Path):
    """The new entry for a wanted one, given the old entry it replaces (None: a new, untranslated entry)."""
    import polib

    entry = polib.POEntry(
        msgctxt=want.context,
        msgid=want.msgid,
        msgstr="",
        occurrences=[(source.as_posix(), want.line)],
        comment=want.comment,
    )
    if old is None or not old.msgstr:
        return entry
    entry.msgstr, entry.tcomment = old.msgstr, old.tcomment
    entry.flags = [flag for flag in old.flags if flag != "fuzzy"]
    if old.msgid != want.msgid or "fuzzy" in old.flags:
        entry.flags.append("fuzzy")
        # the English the translation was made from: kept across several changes
        entry.previous_msgid = old.previous_msgid if "fuzzy" in old.flags and old.previous_msgid else old.msgid
    return entry


def update_catalog(root: Path, source: Path) -> str | None:
    """Bring one catalog up to date with its English file; a line saying what changed, or None."""
    root, source = Path(root), Path(source)
    old = read_catalog(root, source)
    po = new_catalog() if old is None else copy.copy(old)
    old_entries = [] if old is None else [e for e in old if not e.obsolete]
    del po[:]
    wanted = wanted_entries(root, source)
    by_key = {(e.msgctxt, e.msgid): e for e in old_entries}
    by_context = {e.msgctxt: e for e in old_entries if e.msgctxt is not None}
    used, new, changed = set(), 0, 0
    for want in wanted:
        match = by_key.get((want.context, want.msgid))
        if match is None and want.context is not None:
            match = by_context.get(want.context)
        elif match is None:
            wanted_ids = {w.msgid for w in wanted}
            spare = [e for e in old_entries if id(e) not in used and e.msgstr and e.msgid not in wanted_ids]
            match = _closest(want.msgid, spare)
        if match is not None:
            used.add(id(match))
        entry = _updated_entry(match, want, source)
        new += match is None
        changed += match is not None and match.msgid != want.msgid
        po.append(entry)
    dropped = [e for e in old_entries if id(e) not in used]
    text = po.__unicode__()
    path = root / catalog_path(source)
    if old is not None and old.__unicode__() == text:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if old is None:
        return f"wrote {catalog_path(source)}: {len(po)} entries to translate"
    lost = sum(1 for e in dropped if e.msgstr)
    parts = [f"{new} new", f"{changed} changed (marked fuzzy where translated)", f"{len(dropped)} dropped"]
    if lost:
        parts.append(f"{lost} translation(s) dropped with their cells or blocks; git still has them")
    return f"updated {catalog_path(source)}: " + ", ".join(parts)


def update_workbook_catalogs(root: Path) -> list[str]:
    """Bring every workbook catalog up to date with its English file; one line per catalog written."""
    return [line for source in english_sources(root) if (line := update_catalog(root, source))]


# ---- build -------------------------------------------------------------------------------------


def _translated(texts: dict, context: str | None, msgid: str) -> str:
    return texts.get((context, msgid), msgid)


def _same_source(cell, previous) -> bool:
    return previous is not None and previous.cell_type == cell.cell_type and previous.source == cell.source


def twin_notebook(english, po, previous=None):
    """The pt-BR notebook of an English one: same cells, sources from the catalog, the pt-BR kernel.

    Outputs come from ``previous`` (the pt-BR notebook on disk) for each cell whose source is unchanged.
    """
    texts = translations(po)
    nb = copy.deepcopy(english)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    old_cells = {cell.get("id"): cell for cell in previous.cells} if previous is not None else {}
    for key in VOLATILE_METADATA:
        nb.metadata.pop(key, None)
        if previous is not None and key in previous.metadata:
            nb.metadata[key] = copy.deepcopy(previous.metadata[key])
    for cell in nb.cells:
        if cell_needs_entry(cell):
            cell.source = _translated(texts, cell.id, cell.source)
        if cell.cell_type != "code":
            continue
        old = old_cells.get(cell.get("id"))
        if _same_source(cell, old):
            cell.outputs, cell.execution_count = copy.deepcopy(old.outputs), old.execution_count
            cell.metadata.pop("execution", None)
            if "execution" in old.metadata:
                cell.metadata["execution"] = copy.deepcopy(old.metadata["execution"])
        else:
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    return nb


def cells_to_run(english, twin) -> int:
    """How many code cells ran in the English notebook and have not run in its pt-BR twin."""
    ran = {cell.get("id") for cell in english.cells if cell.cell_type == "code" and cell.execution_count is not None}
    return sum(1 for cell in twin.cells if cell.get("id") in ran and cell.execution_count is None)


def _read_notebook(path: Path):
    return nbformat.read(path, as_version=4) if path.exists() else None


def _relink(text: str, english_links: set[str], source: Path, twins: dict[str, str]) -> str:
    """Links of a generated doc resolve from its own folder; the English file's links go to pt-BR twins."""
    folder = twin_path(source).parent

    def fix(match):
        target = match[2]
        path, hash_, anchor = target.partition("#")
        if not path or re.match(r"^[a-z][a-z0-9+.-]*:|^/", target):
            return match[0]
        meant = _normal((source.parent / path).as_posix())  # the project file the English link means
        if target in english_links and meant in twins:
            meant = twins[meant]
        return f"{match[1]}{os.path.relpath(meant, folder)}{hash_}{anchor}{match[3]}"

    return _LINK.sub(fix, text)


def _normal(path: str) -> str:
    """A project-relative path with its `.` and `..` resolved, in posix form."""
    parts: list[str] = []
    for part in Path(path).parts:
        if part == "..":
            parts = parts[:-1]
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def twin_doc(root: Path, source: Path, po) -> str:
    """The pt-BR text of an English markdown file, block by block from the catalog."""
    texts = translations(po)
    twins = {path.as_posix(): twin_path(path).as_posix() for path in english_sources(root)}
    blocks = []
    for block in markdown_blocks((Path(root) / source).read_text(encoding="utf-8")):
        links = {m[2] for m in _LINK.finditer(block)}
        blocks.append(_relink(_translated(texts, None, block), links, source, twins))
    return "\n\n".join(blocks) + "\n"


@dataclass
class Build:
    """What ``build_workbook`` wants on disk (path -> bytes), and the notebooks that need a run."""

    files: dict[Path, bytes] = field(default_factory=dict)
    needs_run: dict[Path, int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def planned_build(root: Path) -> Build:
    """Everything ``build_workbook`` would write, computed without writing."""
    root = Path(root)
    build = Build()
    for source in english_notebooks(root):
        english = nbformat.read(root / source, as_version=4)
        target = twin_path(source)
        twin = twin_notebook(english, read_catalog(root, source), _read_notebook(root / target))
        build.files[target] = exercises.render(twin)
        if cells_to_run(english, twin):
            build.needs_run[target] = cells_to_run(english, twin)
        if source.parent == Path(exercises.SOLUTIONS):
            exercise = exercises.exercise_notebook(twin, target.as_posix(), STUBS)
            build.files[Path(exercises.EXERCISES) / FOLDER / source.name] = exercises.render(exercise)
    for source in DOCS:
        if (root / source).exists():
            build.files[twin_path(source)] = twin_doc(root, source, read_catalog(root, source)).encode("utf-8")
    return build


def build_workbook(root: Path) -> Build:
    """Write the pt-BR notebooks, exercises and docs; return the plan, with ``lines`` of what was done."""
    root = Path(root)
    build = planned_build(root)
    done = []
    for relative, content in build.files.items():
        path = root / relative
        if path.exists() and path.read_bytes() == content:
            continue
        done.append(f"{'updated' if path.exists() else 'wrote'} {relative.as_posix()}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
    for extra in _extra_twins(root, build):
        (root / extra).unlink()
        done.append(f"removed {extra.as_posix()} (its English file is gone)")
    build.lines = done
    return build


def needs_run_lines(build: Build) -> list[str]:
    """One line per generated notebook that must be run to get its outputs back."""
    return [
        f"needs a run: {path.as_posix()} ({count} cell{'s' if count != 1 else ''} changed)"
        for path, count in build.needs_run.items()
    ]


# ---- problems ----------------------------------------------------------------------------------


def _twin_folders(root: Path) -> list[Path]:
    return [folder / FOLDER for folder in (*NOTEBOOK_FOLDERS, Path(exercises.EXERCISES))] + [Path("docs") / FOLDER]


def _extra_twins(root: Path, build: Build) -> list[Path]:
    """Generated-looking files that no English file generates."""
    found = [p.relative_to(root) for folder in _twin_folders(root) for p in sorted((root / folder).glob("*.*"))]
    if (root / twin_path(Path("README.md"))).exists():
        found.append(twin_path(Path("README.md")))
    return [path for path in found if path not in build.files and path.suffix in (".ipynb", ".md")]


def one_language_files(root: Path) -> list[str]:
    """An English file without its pt-BR twin, or a pt-BR file without its English twin."""
    root = Path(root)
    build = planned_build(root)
    problems = []
    for relative in build.files:
        if not (root / relative).exists():
            problems.append(f"{relative.as_posix()} is missing: the English file has no pt-BR twin")
    for extra in _extra_twins(root, build):
        problems.append(f"{extra.as_posix()} has no English twin: remove it or add the English file")
    return problems


def _cells_named(names: list[str], limit: int = 6) -> str:
    """The first few names of a list, for a one-line problem."""
    return ", ".join(names[:limit]) + (", …" if len(names) > limit else "")


def catalog_problems(root: Path) -> list[str]:
    """Catalogs missing or out of date with their sources, and entries untranslated or fuzzy."""
    root = Path(root)
    problems = []
    for source in english_sources(root):
        where = catalog_path(source).as_posix()
        po = read_catalog(root, source)
        if po is None:
            problems.append(f"{where} is missing: the catalog of {source.as_posix()} (run `labapp i18n update`)")
            continue
        entries = [e for e in po if not e.obsolete]
        wanted = wanted_entries(root, source)
        have = {(e.msgctxt, e.msgid) for e in entries}
        want = {(w.context, w.msgid) for w in wanted}
        label = (lambda key: f"cell {key[0]}") if source.suffix == ".ipynb" else (lambda key: repr(key[1][:40]))
        missing = [label(k) for k in [(w.context, w.msgid) for w in wanted] if k not in have]
        obsolete = [label(k) for k in [(e.msgctxt, e.msgid) for e in entries] if k not in want]
        if missing or obsolete:
            problems.append(
                f"{where} is out of date with {source.as_posix()}: {len(missing)} entry(ies)"
                f" missing or changed ({_cells_named(missing)}), {len(obsolete)} obsolete "
                f"({_cells_named(obsolete)}); run `labapp i18n update`"
            )
        for what, chosen in (
            ("untranslated", [e for e in entries if not e.msgstr]),
            (
                "fuzzy (the English changed: check the translation, then remove the fuzzy flag)",
                [e for e in entries if e.msgstr and "fuzzy" in e.flags],
            ),
        ):
            if chosen:
                names = [label((e.msgctxt, e.msgid)) for e in chosen]
                problems.append(f"{where}: {len(chosen)} {what}: {_cells_named(names)}")
    return problems


def _skeleton(content: bytes, suffix: str):
    """What must match in a generated file: a notebook without outputs and run data; a doc whole."""
    if suffix != ".ipynb":
        return content
    nb = nbformat.reads(content.decode("utf-8"), as_version=4)
    for key in VOLATILE_METADATA:
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return json.dumps(nb, sort_keys=True)


def stale_generated(root: Path) -> list[str]:
    """Generated pt-BR files whose sources differ from what ``labapp i18n build`` would write."""
    root = Path(root)
    problems = []
    for relative, content in planned_build(root).files.items():
        path = root / relative
        if path.exists() and _skeleton(path.read_bytes(), path.suffix) != _skeleton(content, path.suffix):
            problems.append(f"{relative.as_posix()} is stale: it differs from what `labapp i18n build` writes")
    return problems


def program_differences(root: Path) -> list[str]:
    """pt-BR code cells that are not the English program, or whose solution markers differ."""
    root = Path(root)
    problems = []
    for source in english_notebooks(root):
        twin = _read_notebook(root / twin_path(source))
        if twin is None:
            continue
        english = nbformat.read(root / source, as_version=4)
        theirs = {cell.get("id"): cell for cell in twin.cells}
        for number, cell in enumerate(english.cells, 1):
            other = theirs.get(cell.get("id"))
            where = f"{twin_path(source).as_posix()} cell {number} ({cell.get('id')})"
            if other is None or other.cell_type != cell.cell_type:
                problems.append(f"{where}: expected a {cell.cell_type} cell like the English one, found none")
                continue
            if _markers(cell.source) != _markers(other.source):
                problems.append(f"{where}: the solution markers differ from the English cell's; keep them as they are")
            if cell.cell_type == "code":
                difference = same_program(cell.source, other.source)
                if difference:
                    problems.append(f"{where}: not the same program as the English cell: {difference}")
        if len(twin.cells) != len(english.cells):
            problems.append(
                f"{twin_path(source).as_posix()}: expected {len(english.cells)} cells, found {len(twin.cells)}"
            )
    return problems


def _markers(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if _SOLUTION_MARKER.match(line)]


def workbook_problems(root: Path) -> list[str]:
    """Every problem of the pt-BR workbook, in plain words; empty when it is complete and fresh."""
    return one_language_files(root) + catalog_problems(root) + stale_generated(root) + program_differences(root)


# ---- the same program --------------------------------------------------------------------------


class _Blank(ast.NodeTransformer):
    """Blank the string constants a person reads; keep those the program uses as data.

    Kept: dict keys, subscripts (``row['pid']``), comparison operands (``state == 'SUCCESS'``) and the
    arguments of IPython's magics and shell commands, where a changed word changes what runs.
    """

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            return ast.copy_location(ast.Constant(value=""), node)
        return node

    def visit_FormattedValue(self, node):
        node.value = self.visit(node.value)
        return node  # its format spec (`:<10`) is layout the program chose: kept

    def visit_Dict(self, node):
        node.values = [self.visit(value) for value in node.values]
        return node

    def visit_Subscript(self, node):
        node.value = self.visit(node.value)
        return node

    def visit_Compare(self, node):
        return node

    def visit_Call(self, node):
        if _is_ipython_call(node):
            return node
        return self.generic_visit(node)


def _is_ipython_call(node) -> bool:
    """True for get_ipython().run_line_magic(...), .system(...) and the like."""
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "get_ipython"
    )


def _program(code: str) -> list[ast.stmt]:
    """The statements of Python code with comments gone and the readable strings blanked (positions kept)."""
    return _Blank().visit(ast.parse(code)).body


def _without_comments(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if not line.lstrip().startswith("#")]


_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _first_difference(english: list, portuguese: list, en_code: str, pt_code: str) -> str | None:
    """Where two blanked programs first differ: the innermost differing statements, English and Portuguese."""
    for a, b in zip(english, portuguese):
        if ast.dump(a) == ast.dump(b):
            continue
        if type(a) is type(b):
            for name in _BLOCKS:
                inner = _first_difference(getattr(a, name, []), getattr(b, name, []), en_code, pt_code)
                if inner:
                    return inner
        return f"expected `{_line(en_code, a)}` (line {a.lineno}), found `{_line(pt_code, b)}`"
    if len(english) != len(portuguese):
        return f"expected {len(english)} statements, found {len(portuguese)}"
    return None


def _line(code: str, node) -> str:
    """A statement as written, one line of it (a block's header), shortened."""
    text = (ast.get_source_segment(code, node) or "").splitlines()
    text = text[0] if text else ""
    return text if len(text) <= 100 else text[:99] + "…"


def _compare_python(english: str, portuguese: str) -> str | None:
    try:
        en = _program(english)
    except SyntaxError:
        return None if _without_comments(english) == _without_comments(portuguese) else "the code differs"
    try:
        pt = _program(portuguese)
    except SyntaxError as exc:
        return f"the Portuguese cell does not parse (line {exc.lineno}: {exc.msg})"
    if [ast.dump(node) for node in en] == [ast.dump(node) for node in pt]:
        return None
    return _first_difference(en, pt, english, portuguese) or "the code differs"


def _cell_magic(source: str) -> tuple[str, str] | None:
    """(the %% line, the body) of a cell magic cell, else None."""
    lines = source.lstrip("\n").split("\n", 1)
    if not lines[0].startswith("%%"):
        return None
    return lines[0].rstrip(), lines[1] if len(lines) > 1 else ""


def same_program(english_source: str, portuguese_source: str) -> str | None:
    """None when two code cells differ only in comments and strings a person reads, else what differs."""
    magic_en, magic_pt = _cell_magic(english_source), _cell_magic(portuguese_source)
    if (magic_en is None) != (magic_pt is None):
        return "one cell is a cell magic (%%), the other is not"
    if magic_en is not None:
        if magic_en[0] != magic_pt[0]:
            return f"expected the magic line `{magic_en[0]}`, found `{magic_pt[0]}`"
        name = magic_en[0][2:].split()[0] if magic_en[0][2:].split() else ""
        if name == "writefile" and magic_en[0].rstrip().endswith(".py"):
            return _compare_python(magic_en[1], magic_pt[1])
        if _without_comments(magic_en[1]) != _without_comments(magic_pt[1]):
            return f"the body of `{magic_en[0]}` differs in more than its comment lines"
        return None
    from IPython.core.inputtransformer2 import TransformerManager

    manager = TransformerManager()
    return _compare_python(manager.transform_cell(english_source), manager.transform_cell(portuguese_source))


# ---- the pt-BR kernel --------------------------------------------------------------------------


def install_kernel(prefix: str | None = None) -> Path:
    """Install ``python3-pt-br`` into an environment (default: this one): its python3 kernel plus LABAPP_LANG."""
    kernels = Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels"
    folder = kernels / KERNEL_NAME
    if (kernels / "python3" / "kernel.json").exists():
        shutil.copytree(kernels / "python3", folder, dirs_exist_ok=True)  # its logos too
        spec = json.loads((kernels / "python3" / "kernel.json").read_text())
    else:  # an environment without ipykernel's data files: the spec ipykernel would write
        from ipykernel.kernelspec import get_kernel_dict

        folder.mkdir(parents=True, exist_ok=True)
        spec = get_kernel_dict()
    spec.update(display_name=KERNEL_DISPLAY_NAME, env={**spec.get("env", {}), **KERNEL_ENV})
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return folder
