"""The pt-BR workbook's machinery on small projects: catalogs, build, problems, the same-program check.

No process is started: the generated notebooks are compared as files (their run is nbval's job).
"""

from __future__ import annotations

import json
import shutil
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from labapp import cli
from labapp.authoring import translation
from labapp.authoring.translation import same_program
from labapp.cli.clusters import lab_language
from tests.support import paths

ROOT = paths.ROOT
LESSON = translation.Path("notebooks/00_setup.ipynb")
SOLUTION = translation.Path("solutions/ex01_fixture.ipynb")
TWIN = translation.Path("notebooks/pt-BR/00_setup.ipynb")

# ---- the same program --------------------------------------------------------------------------

WRITEFILE = (
    '%%writefile work/ex01_tasks.py\nimport math\n\n\ndef square(n):\n    """Square n."""\n    return n * n  # fast\n'
)


@pytest.mark.parametrize(
    ("english", "portuguese"),
    [
        ("x = 1  # one\nprint('done')", "x = 1  # um\nprint('pronto')"),
        ('def f():\n    """Add one."""\n    return 1', 'def f():\n    """Soma um."""\n    return 1'),
        ('print(f"{n:<10} tasks in {t:.1f} s")', 'print(f"{n:<10} tarefas em {t:.1f} s")'),
        (WRITEFILE, WRITEFILE.replace("Square n.", "O quadrado de n.").replace("# fast", "# rápido")),
        ("%%bash\n# list the files\nls -l\n", "%%bash\n# lista os arquivos\nls -l\n"),
        ("%time total = f(3)  \n", "%time total = f(3)  \n"),
    ],
    ids=["comment-and-print", "docstring", "f-string-text", "writefile-comment", "bash-comment", "line-magic"],
)
def test_translated_comments_and_strings_are_the_same_program(english, portuguese):
    assert same_program(english, portuguese) is None


@pytest.mark.parametrize(
    ("english", "portuguese", "said"),
    [
        (
            "total = f(3)\nprint(total)",
            "soma = f(3)\nprint(soma)",
            "expected `total = f(3)` (line 1), found `soma = f(3)`",
        ),
        ("cluster = Cluster(workers=2)", "cluster = Cluster(workers=3)", "found `cluster = Cluster(workers=3)`"),
        ("r = f(1)", "r = f(1)\ncluster.scale(4)", "expected 1 statements, found 2"),
        (
            WRITEFILE,
            WRITEFILE.replace("n * n", "n * n + 1"),
            "expected `return n * n` (line 6), found `return n * n + 1`",
        ),
        (WRITEFILE, WRITEFILE.replace("work/ex01_tasks.py", "work/ex01_tarefas.py"), "expected the magic line"),
        ("%time total = f(3)", "%time total = f(4)", "run_line_magic('time', 'total = f(4)')"),
        ("!ls work", "!ls trabalho", "system('ls trabalho')"),
        ("%%bash\nls -l\n", "%%bash\nls -la\n", "the body of `%%bash` differs"),
        ("row['pid']", "row['processo']", "found `row['processo']`"),
        ('if state == "SUCCESS":\n    pass', 'if state == "SUCESSO":\n    pass', "SUCESSO"),
        ('print(f"{n} tasks")', 'print(f"{m} tarefas")', 'found `print(f"{m} tarefas")`'),
        ("x = 1", "x = (1", "the Portuguese cell does not parse"),
    ],
    ids=[
        "renamed-variable",
        "changed-number",
        "added-call",
        "writefile-body-line",
        "writefile-magic-line",
        "line-magic",
        "shell-command",
        "cell-magic-body",
        "subscript-key",
        "compared-state",
        "f-string-expression",
        "syntax-error",
    ],
)
def test_a_program_difference_is_reported(english, portuguese, said):
    found = same_program(english, portuguese)
    assert found is not None and said in found, found


# ---- a small project ---------------------------------------------------------------------------

SOLUTION_CELLS = [
    ("s-0", "markdown", "# ex01 · A fixture\n\n**Goal:** square a number."),
    (
        "s-1",
        "code",
        WRITEFILE.replace(
            "    return n * n  # fast\n", "    ### BEGIN SOLUTION\n    return n * n  # fast\n    ### END SOLUTION\n"
        ),
    ),
    ("s-2", "code", "square(3)"),
]
README = "[Leia em português](README.pt-BR.md)\n\n# Fixture\n\nStart with [lesson 00](notebooks/00_setup.ipynb).\n"
CLASSROOM = "# Classroom\n\nSee [the README](../README.md) and [the code](code.md).\n"


def translate(po, texts: dict) -> None:
    """Give the entries their Portuguese: texts maps a msgctxt (or a msgid) to the msgstr."""
    for entry in po:
        entry.msgstr = texts.get(entry.msgctxt, texts.get(entry.msgid, entry.msgid))


@pytest.fixture
def project(tmp_path):
    """Lesson 00 with its real catalog, a solution and two docs: catalogs translated, pt-BR built."""
    root = tmp_path / "project"
    for relative in (LESSON, translation.catalog_path(LESSON)):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, root / relative)
    nb = new_notebook(cells=[])
    for cell_id, kind, source in SOLUTION_CELLS:
        cell = new_markdown_cell(source) if kind == "markdown" else new_code_cell(source, execution_count=1)
        cell.id = cell_id
        if kind == "code":
            cell.outputs = [new_output("stream", name="stdout", text="9\n")]
            cell.metadata["tags"] = ["check"] if cell_id == "s-2" else []
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (root / "solutions").mkdir()
    nbformat.write(nb, root / SOLUTION)
    (root / "README.md").write_text(README)
    (root / "docs").mkdir()
    (root / "docs" / "classroom.md").write_text(CLASSROOM)
    translation.update_workbook_catalogs(root)
    texts = {
        "s-0": "# ex01 · Um exemplo\n\n**Objetivo:** elevar um número ao quadrado.",
        "s-1": SOLUTION_CELLS[1][2].replace("Square n.", "O quadrado de n.").replace("# fast", "# rápido"),
        "[Leia em português](README.pt-BR.md)": "[Read in English](README.md)",
        "Start with [lesson 00](notebooks/00_setup.ipynb).": "Comece pela [lição 00](notebooks/00_setup.ipynb).",
        "See [the README](../README.md) and [the code](code.md).": (
            "Veja [o README](../README.md) e [o código](code.md)."
        ),
    }
    for source in (SOLUTION, translation.Path("README.md"), translation.Path("docs/classroom.md")):
        po = translation.read_catalog(root, source)
        translate(po, texts)
        po.save(str(root / translation.catalog_path(source)))
    translation.build_workbook(root)
    return root


def catalog(root, source=LESSON):
    return translation.read_catalog(root, source)


def save(po, root, source=LESSON):
    po.save(str(root / translation.catalog_path(source)))


def read(root, relative):
    return nbformat.read(root / relative, as_version=4)


def test_a_complete_project_has_no_problem(project):
    assert translation.workbook_problems(project) == []


def test_a_new_catalog_is_the_skeleton_translators_start_from(project):
    po = catalog(project, SOLUTION)
    assert [(e.msgctxt, e.comment, e.occurrences) for e in po] == [
        ("s-0", "markdown cell", [("solutions/ex01_fixture.ipynb", "0")]),
        ("s-1", "code cell", [("solutions/ex01_fixture.ipynb", "1")]),
    ], "s-2 (square(3)) has no comment and no string: no entry"
    assert po.metadata["Language"] == "pt_BR" and po.wrapwidth == 0


def test_the_twin_notebook_has_the_same_cells_and_the_pt_br_kernel(project):
    english, twin = read(project, LESSON), read(project, TWIN)
    assert [(c.id, c.cell_type, c.metadata.get("tags")) for c in twin.cells] == [
        (c.id, c.cell_type, c.metadata.get("tags")) for c in english.cells
    ]
    assert twin.metadata["kernelspec"] == translation.KERNELSPEC
    assert twin.cells[0].source.startswith("# 00 · Verificação do ambiente")
    assert twin.cells[6].source == english.cells[6].source == "cluster.status()", "a cell without entry is copied"


def test_the_exercise_and_docs_are_generated_in_portuguese(project):
    exercise = read(project, "exercises/pt-BR/ex01_fixture.ipynb")
    assert "# rápido" not in exercise.cells[1].source and "raise NotImplementedError" in exercise.cells[1].source
    assert "# SEU CÓDIGO AQUI" in exercise.cells[1].source and "YOUR CODE HERE" not in exercise.cells[1].source
    assert '"""O quadrado de n."""' in exercise.cells[1].source
    readme = (project / "README.pt-BR.md").read_text()
    assert readme.startswith("[Read in English](README.md)\n\n# Fixture\n\n")
    assert "Comece pela [lição 00](notebooks/pt-BR/00_setup.ipynb)." in readme, "a lesson link goes to its twin"
    classroom = (project / "docs/pt-BR/classroom.md").read_text()
    assert "[o README](../../README.pt-BR.md)" in classroom and "[o código](../code.md)" in classroom


def test_outputs_are_kept_for_unchanged_cells_and_cleared_for_changed_ones(project):
    twin = read(project, TWIN)
    for cell in twin.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [new_output("stream", name="stdout", text="ran\n")], 1
    nbformat.write(twin, project / TWIN)
    assert TWIN not in translation.planned_build(project).needs_run
    po = catalog(project)
    entry = next(e for e in po if e.msgctxt == "00-14")
    entry.msgstr = entry.msgstr.replace("a máquina tem", "o computador tem")
    save(po, project)
    build = translation.build_workbook(project)
    assert "needs a run: notebooks/pt-BR/00_setup.ipynb (1 cell changed)" in translation.needs_run_lines(build)
    cells = {c.id: c for c in read(project, TWIN).cells}
    assert cells["00-14"].outputs == [] and cells["00-14"].execution_count is None
    assert cells["00-16"].outputs[0].text == "ran\n"
    assert translation.stale_generated(project) == []


def test_update_keeps_a_changed_cells_translation_as_fuzzy_and_says_what_it_dropped(project):
    nb = read(project, SOLUTION)
    nb.cells[0].source = "# ex01 · A fixture\n\n**Goal:** square a whole number."
    nb.cells.insert(1, new_markdown_cell("A new paragraph."))
    nb.cells[1].id = "s-new"
    del nb.cells[2]  # s-1, the %%writefile cell, translated
    nbformat.write(nb, project / SOLUTION)
    [line] = translation.update_workbook_catalogs(project)
    assert line.startswith("updated labapp/locale/pt_BR/workbook/solutions/ex01_fixture.po: 1 new, 1 changed")
    assert "1 translation(s) dropped" in line
    entries = {e.msgctxt: e for e in catalog(project, SOLUTION)}
    assert list(entries) == ["s-0", "s-new"]
    assert entries["s-0"].msgstr.startswith("# ex01 · Um exemplo") and "fuzzy" in entries["s-0"].flags
    assert entries["s-0"].previous_msgid == SOLUTION_CELLS[0][2]
    assert entries["s-new"].msgstr == "" and not entries["s-new"].flags
    assert translation.update_workbook_catalogs(project) == [], "a second update changes nothing"
    translation.build_workbook(project)
    built = read(project, "solutions/pt-BR/ex01_fixture.ipynb")
    assert built.cells[0].source == nb.cells[0].source, "a fuzzy entry builds as its English source"


def test_a_changed_doc_block_keeps_its_translation_as_fuzzy(project):
    (project / "README.md").write_text(README.replace("Start with", "Please start with"))
    translation.update_workbook_catalogs(project)
    entry = next(e for e in catalog(project, translation.Path("README.md")) if "lição 00" in e.msgstr)
    assert "fuzzy" in entry.flags and entry.previous_msgid.startswith("Start with")


# ---- each problem, planted ---------------------------------------------------------------------


def test_a_file_in_one_language_only_is_reported(project):
    (project / TWIN).unlink()
    shutil.copy(project / SOLUTION, project / "solutions/pt-BR/ex09_gone.ipynb")
    assert translation.one_language_files(project) == [
        "notebooks/pt-BR/00_setup.ipynb is missing: the English file has no pt-BR twin",
        "solutions/pt-BR/ex09_gone.ipynb has no English twin: remove it or add the English file",
    ]


def test_a_catalog_out_of_date_untranslated_or_fuzzy_is_reported(project):
    nb = read(project, LESSON)
    nb.cells[1].source += "\nOne more sentence."
    nbformat.write(nb, project / LESSON)
    po = catalog(project)
    po[2].msgstr = ""
    po[3].flags.append("fuzzy")
    save(po, project)
    problems = translation.catalog_problems(project)
    where = "labapp/locale/pt_BR/workbook/notebooks/00_setup.po"
    assert problems[0].startswith(f"{where} is out of date with notebooks/00_setup.ipynb: 1 entry(ies) missing")
    assert "(cell 00-01), 1 obsolete (cell 00-01)" in problems[0]
    assert problems[1] == f"{where}: 1 untranslated: cell {po[2].msgctxt}"
    assert problems[2].startswith(f"{where}: 1 fuzzy") and problems[2].endswith(f"cell {po[3].msgctxt}")
    (project / translation.catalog_path(LESSON)).unlink()
    assert f"{where} is missing" in translation.catalog_problems(project)[0]


def test_a_generated_file_edited_by_hand_is_reported(project):
    twin = read(project, TWIN)
    twin.cells[0].source += "\nEditado à mão."
    nbformat.write(twin, project / TWIN)
    (project / "docs/pt-BR/classroom.md").write_text("# Sala\n")
    assert translation.stale_generated(project) == [
        "notebooks/pt-BR/00_setup.ipynb is stale: it differs from what `labapp i18n build` writes",
        "docs/pt-BR/classroom.md is stale: it differs from what `labapp i18n build` writes",
    ]


def test_a_translation_that_changes_the_program_is_reported(project):
    po = catalog(project)
    entry = next(e for e in po if e.msgctxt == "00-04")
    entry.msgstr = entry.msgstr.replace("workers=2", "workers=3")
    save(po, project)
    translation.build_workbook(project)
    [problem] = translation.program_differences(project)
    assert problem.startswith("notebooks/pt-BR/00_setup.ipynb cell 5 (00-04): not the same program")
    assert "found `cluster = Cluster(workers=3" in problem


def test_a_translated_solution_marker_is_reported(project):
    po = catalog(project, SOLUTION)
    entry = next(e for e in po if e.msgctxt == "s-1")
    entry.msgstr = entry.msgstr.replace("### END SOLUTION", "### FIM DA SOLUÇÃO")
    save(po, project, SOLUTION)
    with pytest.raises(Exception, match="END SOLUTION"):  # the exercise generator refuses it first
        translation.build_workbook(project)
    nb = read(project, "solutions/pt-BR/ex01_fixture.ipynb")
    nb.cells[1].source = entry.msgstr
    nbformat.write(nb, project / "solutions/pt-BR/ex01_fixture.ipynb")
    assert any("solution markers differ" in p for p in translation.program_differences(project))


def test_the_i18n_commands_update_build_and_name_what_needs_a_run(project, capsys):
    assert cli.main(["i18n", "update", "--root", str(project)]) == 0
    assert "every catalog is up to date" in capsys.readouterr().out
    (project / TWIN).unlink()
    assert cli.main(["i18n", "build", "--root", str(project)]) == 0
    out = capsys.readouterr().out
    assert "wrote notebooks/pt-BR/00_setup.ipynb" in out
    assert "needs a run: notebooks/pt-BR/00_setup.ipynb (9 cells changed)" in out


# ---- this project ------------------------------------------------------------------------------
# These hold once every catalog is translated and `labapp i18n build --execute` has run.


def test_every_english_file_has_its_pt_br_twin_and_back():
    problems = translation.one_language_files(ROOT)
    assert not problems, "\n".join(problems) + "\nrun `labapp i18n build`"


def test_the_catalogs_are_fresh_and_complete():
    problems = translation.catalog_problems(ROOT)
    assert not problems, "\n".join(problems)


def test_the_generated_pt_br_files_are_fresh():
    problems = translation.stale_generated(ROOT)
    assert not problems, "\n".join(problems) + "\nrun `labapp i18n build`"


def test_the_pt_br_code_is_the_same_program_as_the_english():
    problems = translation.program_differences(ROOT)
    assert not problems, "\n".join(problems)


# ---- the language: the kernel and JupyterLab ---------------------------------------------------


def test_the_pt_br_kernel_is_the_python3_kernel_with_the_language(tmp_path):
    kernels = tmp_path / "share" / "jupyter" / "kernels"
    (kernels / "python3").mkdir(parents=True)
    python3 = {"argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], "language": "python"}
    (kernels / "python3" / "kernel.json").write_text(json.dumps({**python3, "display_name": "Python 3 (ipykernel)"}))
    (kernels / "python3" / "logo-64x64.png").write_bytes(b"png")
    folder = translation.install_kernel(str(tmp_path))
    spec = json.loads((folder / "kernel.json").read_text())
    assert spec == {**python3, "display_name": "Python 3 (pt-BR)", "env": {"LABAPP_LANG": "pt_BR"}}
    assert (folder / "logo-64x64.png").exists() and folder.name == "python3-pt-br"


def test_lab_in_portuguese_sets_jupyterlabs_locale_for_that_server_only(tmp_path, monkeypatch):
    from jupyterlab_server.settings_utils import get_settings

    mine = tmp_path / "home-settings"
    (mine / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (mine / "@jupyterlab" / "apputils-extension" / "themes.jupyterlab-settings").write_text(
        '{"theme": "JupyterLab Dark"}'
    )
    monkeypatch.setenv("JUPYTERLAB_SETTINGS_DIR", str(mine))
    env = {"LABAPP_RUNTIME_DIR": str(tmp_path / "runtime")}
    assert lab_language(tmp_path, "en", env) == (tmp_path / "notebooks", [])
    folder, options = lab_language(tmp_path, "pt-BR", env)
    assert folder == tmp_path / "notebooks" / "pt-BR"
    [option] = options
    settings = option.removeprefix("--LabApp.user_settings_dir=")
    assert settings.startswith(str(tmp_path / "runtime"))
    # what jupyterlab_server itself reads as the locale it translates the menus into
    schemas = translation.Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"
    found, _ = get_settings(str(tmp_path / "none"), str(schemas), settings, "@jupyterlab/translation-extension:plugin")
    assert found["settings"] == {"locale": "pt_BR"}
    assert (translation.Path(settings) / "@jupyterlab/apputils-extension/themes.jupyterlab-settings").exists()
    assert sorted(p.name for p in mine.rglob("*.jupyterlab-settings")) == ["themes.jupyterlab-settings"], (
        "the user's own settings are left as they were"
    )
