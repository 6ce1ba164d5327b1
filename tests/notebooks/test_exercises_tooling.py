"""The exercises tooling on small fixture projects: generate/check, reveal (both modes), pack."""

from __future__ import annotations

import json
import shutil
import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from labapp import cli, reveal
from labapp.authoring import exercises, pack, reveal_store
from labapp.engine.broker import BrokerServer

# distinctive solution lines: they must not appear anywhere in the real project
WRITEFILE = """%%writefile work/ex01_tasks.py
import math


def tooling_fixture_square(n):
    if n < 0:
        ### BEGIN SOLUTION
        raise ValueError("fixture: negative input refused")
        ### END SOLUTION
    ### BEGIN SOLUTION
    fixture_value = n * n  # the answer
    return fixture_value
    ### END SOLUTION
"""
HIDDEN = """### BEGIN HIDDEN CHECKS
assert tooling_fixture_square(3) == 9, "hidden fixture check"
### END HIDDEN CHECKS"""
CALL = """print("before")
### BEGIN SOLUTION
fixture_answer = tooling_fixture_square(7)
### END SOLUTION
print(fixture_answer)
### BEGIN HIDDEN CHECKS
assert fixture_answer == 49
### END HIDDEN CHECKS"""
PROSE = """Why does the square grow fast?
<!-- ### BEGIN SOLUTION -->
Because fixture squares double their digits, roughly.
<!-- ### END SOLUTION -->"""


def code(source, tags=(), outputs=True):
    """A code cell that looks executed, with its tags."""
    cell = new_code_cell(
        source,
        execution_count=3 if outputs else None,
        outputs=[new_output("stream", name="stdout", text="49\n")] if outputs else [],
    )
    if tags:
        cell.metadata["tags"] = list(tags)
    cell.metadata["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00Z"}
    cell.metadata["scrolled"] = True
    return cell


def solution_nb():
    """ex01: a %%writefile cell, a hidden-only cell, a call, prose, a check and a plain cell."""
    nb = new_notebook(
        cells=[
            new_markdown_cell("# ex01\n" + PROSE),
            code(WRITEFILE),
            code(HIDDEN),
            code(CALL, tags=("teach",)),
            code("check_ex01()", tags=("check",)),
            code("tooling_fixture_square(2)", tags=("raises-in-exercise",)),
            code("print('plain')"),
        ]
    )
    for index, cell in enumerate(nb.cells):
        cell.id = f"fixture-{index}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture
def project(tmp_path):
    """An instructor's project: solutions/ex01 and solutions/ex02, no exercises/ yet."""
    root = tmp_path / "project"
    (root / "solutions").mkdir(parents=True)
    (root / "labapp").mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'fixture'\n")
    (root / "README.md").write_text("# fixture project\nRun `make test`.\n")
    nbformat.write(solution_nb(), root / "solutions" / "ex01_square.ipynb")
    second = new_notebook(cells=[code("### BEGIN SOLUTION\nfixture_second = 'ex02 answer text'\n### END SOLUTION")])
    second.cells[0].id = "only"
    nbformat.write(second, root / "solutions" / "ex02_second.ipynb")
    return root


def generated(root, name="ex01_square.ipynb"):
    exercises.generate(root)
    return nbformat.read(root / "exercises" / name, as_version=4)


# ---- generate ----------------------------------------------------------------------------------


def test_solution_regions_become_stubs_at_the_markers_indentation(project):
    cell = generated(project).cells[1]
    assert cell.source == (
        "%%writefile work/ex01_tasks.py\nimport math\n\n\ndef tooling_fixture_square(n):\n"
        "    if n < 0:\n        # YOUR CODE HERE\n        raise NotImplementedError\n"
        "    # YOUR CODE HERE\n    raise NotImplementedError\n"
    )


def test_hidden_checks_are_removed_and_a_hidden_only_cell_is_left_out(project):
    nb = generated(project)
    text = "\n".join(c.source for c in nb.cells)
    assert "HIDDEN" not in text and "== 49" not in text and "hidden fixture check" not in text
    assert [c.id for c in nb.cells] == ["fixture-0", "fixture-1", "fixture-3", "fixture-4", "fixture-5", "fixture-6"]
    assert nb.cells[2].source == 'print("before")\n# YOUR CODE HERE\nraise NotImplementedError\nprint(fixture_answer)'


def test_markdown_regions_in_html_comments_become_a_prompt(project):
    md = generated(project).cells[0].source
    assert "fixture squares" not in md and "SOLUTION" not in md
    assert md == "# ex01\nWhy does the square grow fast?\nYOUR ANSWER HERE"


def test_outputs_cleared_metadata_kept_and_tags_added(project):
    nb = generated(project)
    tags = {c.id: c.metadata.get("tags", []) for c in nb.cells}
    assert tags == {
        "fixture-0": [],
        "fixture-1": ["fails-until-solved"],
        "fixture-3": ["teach", "fails-until-solved"],
        "fixture-4": ["check", "fails-until-solved"],
        "fixture-5": ["raises-in-exercise", "fails-until-solved"],
        "fixture-6": [],
    }
    for cell in nb.cells[1:]:
        assert cell.outputs == [] and cell.execution_count is None
        assert cell.metadata["scrolled"] is True and "execution" not in cell.metadata
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_generation_is_byte_stable_and_leaves_the_solutions_alone(project):
    before = (project / "solutions" / "ex01_square.ipynb").read_bytes()
    exercises.generate(project)
    first = (project / "exercises" / "ex01_square.ipynb").read_bytes()
    assert exercises.generate(project) == [
        "unchanged exercises/ex01_square.ipynb",
        "unchanged exercises/ex02_second.ipynb",
    ]
    assert (project / "exercises" / "ex01_square.ipynb").read_bytes() == first
    assert (project / "solutions" / "ex01_square.ipynb").read_bytes() == before


@pytest.mark.parametrize(
    "source, expected",
    [
        ("### BEGIN SOLUTION\nx = 1\n", "line 1: `### BEGIN SOLUTION` has no `### END SOLUTION`"),
        ("x = 1\n### END SOLUTION\n", "line 2: `### END SOLUTION` without a `### BEGIN SOLUTION`"),
        ("### BEGIN SOLUTION\n### END HIDDEN CHECKS\n", "expected `### END SOLUTION`"),
        ("#### BEGIN SOLUTION\nsecret = 1\n### END SOLUTION\n", "line 1: expected a marker"),
        (
            "### BEGIN SOLUTION\n  ### BEGIN HIDDEN CHECKS\n### END HIDDEN CHECKS\n### END SOLUTION\n",
            "line 2: `### BEGIN HIDDEN CHECKS` inside the `### BEGIN SOLUTION` of line 1",
        ),
    ],
)
def test_a_broken_marker_is_an_error_naming_notebook_cell_and_line(project, source, expected, capsys):
    nbformat.write(new_notebook(cells=[code("ok = 1"), code(source)]), project / "solutions" / "ex03_bad.ipynb")
    assert cli.main(["exercises", "--root", str(project)]) == 1
    err = capsys.readouterr().err
    assert "solutions/ex03_bad.ipynb cell 2" in err and expected in err
    assert not (project / "exercises").exists(), "nothing may be written when a notebook is broken"


# ---- --check -----------------------------------------------------------------------------------


def test_check_passes_when_fresh_and_names_stale_missing_and_extra(project, capsys):
    assert cli.main(["exercises", "--root", str(project)]) == 0
    assert "wrote exercises/ex01_square.ipynb" in capsys.readouterr().out
    assert cli.main(["exercises", "--check", "--root", str(project)]) == 0
    assert "up to date (2 notebook(s))" in capsys.readouterr().out

    nb = nbformat.read(project / "solutions" / "ex01_square.ipynb", as_version=4)
    nb.cells[-1].source = "print('changed')"
    nbformat.write(nb, project / "solutions" / "ex01_square.ipynb")
    (project / "exercises" / "ex02_second.ipynb").unlink()
    shutil.copy(project / "exercises" / "ex01_square.ipynb", project / "exercises" / "ex09_gone.ipynb")
    (project / "exercises" / "work").mkdir()
    (project / "exercises" / "work" / "ex01_tasks.py").write_text("# a student's file is not extra\n")

    assert cli.main(["exercises", "--check", "--root", str(project)]) == 1
    out = capsys.readouterr().out
    assert "exercises/ex01_square.ipynb is stale" in out
    assert "exercises/ex02_second.ipynb is missing" in out
    assert "exercises/ex09_gone.ipynb is extra" in out
    assert "work" not in out

    assert cli.main(["exercises", "--root", str(project)]) == 0
    assert "removed exercises/ex09_gone.ipynb" in capsys.readouterr().out
    assert cli.main(["exercises", "--check", "--root", str(project)]) == 0


def test_check_in_a_student_pack_says_there_is_nothing_to_check(tmp_path, capsys):
    (tmp_path / "exercises").mkdir()
    assert cli.main(["exercises", "--check", "--root", str(tmp_path)]) == 0
    assert "no solutions/ folder" in capsys.readouterr().out


# ---- reveal ------------------------------------------------------------------------------------

REVEALED_EX01 = [
    "%%writefile work/ex01_tasks.py\nimport math\n\n\ndef tooling_fixture_square(n):\n    if n < 0:\n"
    '        raise ValueError("fixture: negative input refused")\n    fixture_value = n * n  # the answer\n'
    "    return fixture_value",
    'print("before")\nfixture_answer = tooling_fixture_square(7)\nprint(fixture_answer)',
]


def said(capsys, exercise, **kwargs) -> str:
    """Call reveal(); check it returned None (anything else is the calling cell's Out[...]); what it printed."""
    assert reveal.reveal(exercise, **kwargs) is None
    return capsys.readouterr().out


def test_solution_parts_drop_markers_and_hidden_checks(project):
    assert reveal.solution_parts(project, "ex01") == REVEALED_EX01


def test_own_machine_reveal_with_confirm_prints_the_code_outside_ipython(project, monkeypatch, capsys):
    monkeypatch.delenv("LABAPP_REVEAL_FROM", raising=False)
    assert said(capsys, "ex02", confirm=True, root=project) == "fixture_second = 'ex02 answer text'\n"


def test_own_machine_reveal_asks_first_and_anything_but_yes_reveals_nothing(project, monkeypatch, capsys):
    monkeypatch.delenv("LABAPP_REVEAL_FROM", raising=False)
    monkeypatch.setattr(reveal, "_confirmed", set())
    questions = []
    monkeypatch.setattr("builtins.input", lambda q: questions.append(q) or "y")
    out = said(capsys, "ex02", root=project)
    assert "Reveal the solution of ex02?" in questions[0] and "Type yes" in questions[0]
    assert "Nothing revealed" in out and "ex02 answer" not in out
    monkeypatch.setattr("builtins.input", lambda q: " Yes ")
    assert said(capsys, "ex02", root=project) == "fixture_second = 'ex02 answer text'\n"
    # agreed once: the next call in this kernel does not ask again
    monkeypatch.setattr("builtins.input", lambda q: pytest.fail("asked twice"))
    assert said(capsys, "ex02", root=project) == "fixture_second = 'ex02 answer text'\n"


def test_own_machine_reveal_where_nobody_can_answer_says_how(project, monkeypatch, capsys):
    monkeypatch.delenv("LABAPP_REVEAL_FROM", raising=False)
    monkeypatch.setattr(reveal, "_confirmed", set())

    def no_stdin(question):
        raise EOFError

    monkeypatch.setattr("builtins.input", no_stdin)
    out = said(capsys, "ex02", root=project)
    assert "call reveal('ex02', confirm=True)" in out and "ex02 answer" not in out


def test_a_cell_magic_solution_is_revealed_one_cell_at_a_time(project, monkeypatch, capsys):
    monkeypatch.delenv("LABAPP_REVEAL_FROM", raising=False)
    out = said(capsys, "ex01", confirm=True, root=project)
    assert "reveal('ex01', part=2)" in out and out.endswith(REVEALED_EX01[0] + "\n")
    assert said(capsys, "ex01", confirm=True, part=2, root=project).endswith(REVEALED_EX01[1] + "\n")
    out = said(capsys, "ex01", confirm=True, part=3, root=project)
    assert "expected part between 1 and 2, found 3" in out and "fixture" not in out


def _run_in_kernel(kc, code, answer=None):
    """Execute code; answer its input() prompt if given (else the kernel has no stdin, as under nbval);
    return (reply content, the prompt asked, {message type: [contents]} of what the cell displayed)."""
    msg_id = kc.execute(code, allow_stdin=answer is not None)
    prompt = None
    if answer is not None:
        request = kc.get_stdin_msg(timeout=60)
        prompt = request["content"]["prompt"]
        kc.input(answer)
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:  # a late kernel_info reply from start-up
        reply = kc.get_shell_msg(timeout=60)
    shown: dict[str, list] = {}
    while True:
        message = kc.get_iopub_msg(timeout=60)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return reply["content"], prompt, shown
        shown.setdefault(message["msg_type"], []).append(message["content"])


def _printed(shown: dict) -> str:
    return "".join(part["text"] for part in shown.get("stream", []))


def test_reveal_asks_then_puts_the_code_into_a_new_cell_in_a_real_kernel(project, monkeypatch):
    """In every case the calling cell shows no Out[...]: only the new cell holds the code."""
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, start_new_kernel

    monkeypatch.delenv("LABAPP_REVEAL_FROM", raising=False)  # the kernel inherits our environment

    km, kc = start_new_kernel(kernel_name=CURRENT_ENV_KERNEL_NAME)  # this venv's python, as --nbval-current-env
    call = f"from labapp.reveal import reveal\nreveal('{{}}', root={str(project)!r})"
    try:
        no_stdin = _run_in_kernel(kc, call.format("ex02"))
        refused = _run_in_kernel(kc, call.format("ex02"), answer="not now")
        accepted = _run_in_kernel(kc, call.format("ex02"), answer="yes")
        again = _run_in_kernel(kc, call.format("ex02"))  # agreed once: no question, even without stdin
        bad_name = _run_in_kernel(kc, call.format("ex1"))
        first_of_two = _run_in_kernel(kc, call.format("ex01"), answer="yes")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    for reply, _, shown in (no_stdin, refused, accepted, again, bad_name, first_of_two):
        assert reply["status"] == "ok", reply
        assert "execute_result" not in shown, shown["execute_result"]
        assert "answer text" not in _printed(shown) and "fixture_value" not in _printed(shown)
    assert "call reveal('ex02', confirm=True)" in _printed(no_stdin[2]) and no_stdin[0]["payload"] == []
    assert "Reveal the solution of ex02?" in refused[1]
    assert "stays hidden" in _printed(refused[2]) and refused[0]["payload"] == []
    for reply, _, shown in (accepted, again):
        assert "is in a new cell below" in _printed(shown)
        assert reply["payload"] == [
            {"source": "set_next_input", "text": "fixture_second = 'ex02 answer text'", "replace": False}
        ]
    assert "expected an exercise name" in _printed(bad_name[2]) and bad_name[0]["payload"] == []
    assert first_of_two[0]["payload"][0]["text"] == REVEALED_EX01[0]


@pytest.fixture(params=["folder", "redis"])
def store_location(request, tmp_path):
    """A reveal store of each kind: a folder, and a real embedded broker."""
    if request.param == "folder":
        yield str(tmp_path / "revealed")
        return
    server = BrokerServer(data_dir=tmp_path / "broker", log_path=tmp_path / "broker.log").start()
    try:
        yield server.url
    finally:
        server.stop()


def test_instructor_mode_waits_for_the_instructor_then_reveals(project, tmp_path, store_location, monkeypatch, capsys):
    student = tmp_path / "student"  # a pack: no solutions/
    (student / "exercises").mkdir(parents=True)
    monkeypatch.setenv("LABAPP_REVEAL_FROM", store_location)
    monkeypatch.setattr("builtins.input", lambda q: pytest.fail("instructor mode must not ask"))

    assert "The instructor has not revealed ex02 yet" in said(capsys, "ex02", root=student)
    assert "The instructor has not revealed ex02 yet" in said(capsys, "ex02", root=project), (
        "LABAPP_REVEAL_FROM set: instructor mode even here"
    )

    assert cli.main(["reveal", "ex02", "--root", str(project)]) == 0
    out = capsys.readouterr().out
    assert "revealed ex02" in out and ("redis" not in store_location or store_location.split("@")[0] not in out)
    assert said(capsys, "ex02", root=student) == "fixture_second = 'ex02 answer text'\n"
    assert "has not revealed ex01 yet" in said(capsys, "ex01", root=student), "revealing ex02 must not reveal ex01"

    assert cli.main(["reveal", "--list"]) == 0
    assert capsys.readouterr().out.startswith("ex02  revealed 20")
    assert cli.main(["reveal", "--hide", "ex02"]) == 0
    capsys.readouterr()
    assert "has not revealed ex02 yet" in said(capsys, "ex02", root=student)


def test_a_revealed_solution_comes_in_the_readers_language(project, tmp_path, monkeypatch, capsys):
    translated = new_notebook(cells=[code("### BEGIN SOLUTION\nfixture_second = 'resposta do ex02'\n### END SOLUTION")])
    translated.cells[0].id = "only"
    (project / "solutions" / "pt-BR").mkdir()
    nbformat.write(translated, project / "solutions" / "pt-BR" / "ex02_second.ipynb")
    student = tmp_path / "student"  # a pack: no solutions/
    (student / "exercises").mkdir(parents=True)
    monkeypatch.setenv("LABAPP_REVEAL_FROM", str(tmp_path / "store"))
    assert cli.main(["reveal", "ex02", "--root", str(project)]) == 0
    capsys.readouterr()
    assert said(capsys, "ex02", root=student) == "fixture_second = 'ex02 answer text'\n"
    monkeypatch.setenv("LABAPP_LANG", "pt_BR")
    assert said(capsys, "ex02", root=student) == "fixture_second = 'resposta do ex02'\n"
    assert said(capsys, "ex01", root=student).startswith("O professor ainda não revelou ex01"), (
        "a solution without a translation is still the instructor's to reveal"
    )
    # on the instructor's own machine, the solution in the reader's language too; English where none exists
    monkeypatch.delenv("LABAPP_REVEAL_FROM")
    assert reveal.solution_parts(project, "ex02") == ["fixture_second = 'resposta do ex02'"]
    assert reveal.solution_parts(project, "ex02", "en") == ["fixture_second = 'ex02 answer text'"]
    assert reveal.solution_parts(project, "ex01") == REVEALED_EX01


def test_the_folder_is_the_default_store_and_a_redis_url_the_classroom_one(tmp_path):
    assert str(reveal_store.open_store("")) == "folder " + str(reveal_store.DEFAULT_FOLDER).replace(
        "~", str(reveal_store.Path.home()), 1
    )
    assert str(reveal_store.open_store("redis://:secret@10.0.0.5:6399/0")) == "Redis redis://10.0.0.5:6399/0"
    with pytest.raises(ValueError, match="expected a folder path or a redis:// URL"):
        reveal_store.open_store("http://example.org/")


def test_an_unreachable_or_wrong_store_says_so(tmp_path, monkeypatch, capsys):
    from labapp.engine.broker import free_port

    monkeypatch.setenv("LABAPP_REVEAL_FROM", f"redis://127.0.0.1:{free_port()}/0")
    assert "Is that server running" in said(capsys, "ex01", root=tmp_path)
    monkeypatch.setenv("LABAPP_REVEAL_FROM", "https://instructor.example/")
    assert "expected a folder path or a redis:// URL" in said(capsys, "ex01", root=tmp_path)


def test_reveal_names_a_bad_exercise_name_or_a_missing_solution(project, monkeypatch, capsys):
    monkeypatch.delenv("LABAPP_REVEAL_FROM", raising=False)
    assert "expected an exercise name like 'ex01', found 'ex1'" in said(capsys, "ex1", confirm=True, root=project)
    out = said(capsys, "ex07", confirm=True, root=project)
    assert "expected one notebook solutions/ex07_*.ipynb" in out and "ex01_square.ipynb, ex02_second.ipynb" in out


def test_instructor_cli_without_solutions_or_exercise_refuses(tmp_path, capsys):
    assert cli.main(["reveal", "ex01", "--root", str(tmp_path), "--store", str(tmp_path / "s")]) == 1
    assert "no solutions/" in capsys.readouterr().err
    assert cli.main(["reveal", "--store", str(tmp_path / "s")]) == 2
    assert "name an exercise" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


# ---- pack --------------------------------------------------------------------------------------


@pytest.fixture
def fresh(project):
    """The fixture project with exercises/ generated and a lesson with a harmless output."""
    exercises.generate(project)
    (project / "notebooks").mkdir()
    lesson = new_notebook(cells=[code("print(49)")])
    nbformat.write(lesson, project / "notebooks" / "00_setup.ipynb")
    (project / ".venv").mkdir()
    (project / ".venv" / "leak.py").write_text('raise ValueError("fixture: negative input refused")\n')
    return project


@pytest.mark.parametrize("use_git", [True, False], ids=["git", "walk"])
def test_pack_copies_the_project_without_solutions(fresh, tmp_path, use_git, capsys):
    if use_git:
        subprocess.run(["git", "init", "-q", str(fresh)], check=True)
        subprocess.run(
            ["git", "-C", str(fresh), "add", "README.md", "exercises", "notebooks", "solutions", "pyproject.toml"],
            check=True,
        )
        (fresh / "untracked.txt").write_text("not tracked, not packed\n")
    # a language's solutions and their catalog are the instructor's too
    catalog = fresh / "labapp" / "locale" / "pt_BR" / "workbook" / "solutions" / "ex01_square.po"
    catalog.parent.mkdir(parents=True)
    catalog.write_text('msgid "x"\nmsgstr "x"\n')
    (fresh / "solutions" / "pt-BR").mkdir()
    shutil.copy(fresh / "solutions" / "ex01_square.ipynb", fresh / "solutions" / "pt-BR" / "ex01_square.ipynb")
    if use_git:
        subprocess.run(["git", "-C", str(fresh), "add", "labapp", "solutions"], check=True)
    dest = tmp_path / "pack"
    assert cli.main(["pack", "--student", str(dest), "--root", str(fresh)]) == 0, capsys.readouterr()
    copied = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert copied == [
        "README.md",
        "exercises/ex01_square.ipynb",
        "exercises/ex02_second.ipynb",
        "notebooks/00_setup.ipynb",
        "pyproject.toml",
    ]
    assert cli.main(["exercises", "--check", "--root", str(dest)]) == 0


def test_a_portuguese_pack_opens_the_portuguese_lessons(fresh, tmp_path, capsys):
    from labapp.cli.clusters import project_language

    assert cli.main(["pack", "--student", str(tmp_path / "no"), "--lang", "pt-BR", "--root", str(fresh)]) == 1
    assert "no notebooks/pt-BR/" in capsys.readouterr().err
    (fresh / "notebooks" / "pt-BR").mkdir()
    shutil.copy(fresh / "notebooks" / "00_setup.ipynb", fresh / "notebooks" / "pt-BR" / "00_setup.ipynb")
    dest = tmp_path / "pack"
    assert cli.main(["pack", "--student", str(dest), "--lang", "pt-BR", "--root", str(fresh)]) == 0, capsys.readouterr()
    assert (dest / "notebooks" / "pt-BR" / "00_setup.ipynb").is_file() and not (dest / "solutions").exists()
    assert project_language(dest) == "pt-BR" and project_language(fresh) == "en"
    assert cli.main(["exercises", "--check", "--root", str(dest)]) == 0  # the pack's pyproject.toml still reads


def test_pack_refuses_when_a_solution_line_is_planted_and_removes_only_its_own_files(fresh, tmp_path, capsys):
    (fresh / "docs").mkdir()
    (fresh / "docs" / "notes.md").write_text("intro\n    fixture_value = n * n  # the answer\n")
    nb = nbformat.read(fresh / "notebooks" / "00_setup.ipynb", as_version=4)
    nb.cells[0].outputs = [new_output("stream", name="stdout", text="fixture_answer = tooling_fixture_square(7)\n")]
    nbformat.write(nb, fresh / "notebooks" / "00_setup.ipynb")
    dest = tmp_path / "empty"
    dest.mkdir()
    assert cli.main(["pack", "--student", str(dest), "--root", str(fresh)]) == 1
    err = capsys.readouterr().err
    assert "docs/notes.md:2: solution line from solutions/ex01_square.ipynb cell 2" in err
    assert "notebooks/00_setup.ipynb cell 1 line 1" in err
    assert dest.is_dir() and list(dest.iterdir()) == [], "the refused pack must be gone, the folder kept"


def test_pack_ignores_trivial_solution_lines(fresh, tmp_path):
    trivial = [
        "import collections.abc",
        "from collections import OrderedDict",
        "# a long comment line here",
        "return",
        "pass",
        "total += 1",
    ]
    source = "def f():\n    ### BEGIN SOLUTION\n" + "".join(f"    {t}\n" for t in trivial) + "    ### END SOLUTION"
    nbformat.write(new_notebook(cells=[code(source)]), fresh / "solutions" / "ex03_trivial.ipynb")
    exercises.generate(fresh)
    (fresh / "notes.md").write_text("\n".join(trivial) + "\n")
    assert pack.pack(fresh, tmp_path / "pack")


def test_pack_refuses_a_non_empty_folder_and_a_stale_exercise(fresh, tmp_path, capsys):
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "keep.txt").write_text("the user's")
    assert cli.main(["pack", "--student", str(dest), "--root", str(fresh)]) == 1
    assert "not an empty folder" in capsys.readouterr().err
    assert (dest / "keep.txt").read_text() == "the user's"

    (fresh / "exercises" / "ex02_second.ipynb").unlink()
    assert cli.main(["pack", "--student", str(tmp_path / "new"), "--root", str(fresh)]) == 1
    assert "ex02_second.ipynb is missing" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_generated_notebooks_are_valid_nbformat(project):
    exercises.generate(project)
    for path in (project / "exercises").glob("*.ipynb"):
        nbformat.validate(nbformat.read(path, as_version=4))
        assert json.loads(path.read_text())["nbformat"] == 4
