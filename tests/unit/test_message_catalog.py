"""The package's message catalogs are complete and fresh, and each kind of staleness is reported in plain words."""

from __future__ import annotations

import shutil

import pytest
from babel.messages.pofile import read_po

from labapp.authoring.message_catalog import (
    build_message_catalog,
    catalog_path,
    message_catalog_problems,
    read_catalog,
    template_path,
    update_message_catalog,
    write_catalog,
)
from tests.support import paths

ROOT = paths.ROOT
MESSAGE = (
    "a cluster is already running here with other settings; it is reused as it is "
    "(stop() it first to apply new settings)"
)


def test_the_message_catalogs_are_complete_and_fresh():
    problems = message_catalog_problems(ROOT)
    assert problems == [], "the message catalogs (labapp/locale) are stale:\n" + "\n".join(problems)


@pytest.fixture
def project(tmp_path):
    """A copy of the package (its code and catalogs) to plant differences in."""
    shutil.copytree(ROOT / "labapp", tmp_path / "labapp", ignore=shutil.ignore_patterns("__pycache__"))
    assert message_catalog_problems(tmp_path) == []
    return tmp_path


def edit_entry(root, msgid: str, change) -> None:
    """Change one entry of pt_BR's labapp.po in place (change(message) edits it)."""
    path = catalog_path(root, "pt_BR")
    catalog = read_catalog(path, "pt_BR")
    change(catalog[msgid])
    write_catalog(path, catalog)


def replace_in_code(root, old: str, new: str) -> None:
    """Change a message in the copy's code (the first module that has it)."""
    for path in sorted((root / "labapp").rglob("*.py")):
        text = path.read_text()
        if old in text:
            path.write_text(text.replace(old, new, 1))
            return
    raise AssertionError(f"{old!r} is in no module")


def test_a_new_message_in_the_code_is_reported(project):
    replace_in_code(project, '_("there is no worker to kill")', '_("there is no worker left to kill")')
    problems = message_catalog_problems(project)
    assert any("labapp.pot lacks the message 'there is no worker left to kill'" in p for p in problems), problems
    assert any("labapp.po lacks the message 'there is no worker left to kill'" in p for p in problems), problems
    assert any("labapp.pot still has the message 'there is no worker to kill'" in p for p in problems), problems


def test_a_missing_entry_is_reported(project):
    path = catalog_path(project, "pt_BR")
    catalog = read_catalog(path, "pt_BR")
    catalog.delete("there is no worker to kill")
    write_catalog(path, catalog)
    problems = message_catalog_problems(project)
    assert any("labapp.po lacks the message 'there is no worker to kill'" in p for p in problems), problems


def test_an_untranslated_entry_is_reported(project):
    edit_entry(project, "there is no worker to kill", lambda m: setattr(m, "string", ""))
    problems = message_catalog_problems(project)
    assert any("'there is no worker to kill' is not translated" in p for p in problems), problems


def test_a_fuzzy_entry_is_reported(project):
    edit_entry(project, "there is no worker to kill", lambda m: m.flags.add("fuzzy"))
    problems = message_catalog_problems(project)
    assert any("'there is no worker to kill' is marked fuzzy" in p for p in problems), problems


def test_a_stale_compiled_catalog_is_reported(project):
    edit_entry(project, "there is no worker to kill", lambda m: setattr(m, "string", "nenhum worker para matar"))
    problems = message_catalog_problems(project)
    assert problems == [
        "labapp/locale/pt_BR/LC_MESSAGES/labapp.mo differs from a fresh compile of labapp.po: run `labapp i18n build`"
    ], problems
    build_message_catalog(project)
    assert message_catalog_problems(project) == []


def test_a_dropped_or_added_placeholder_is_reported(project):
    edit_entry(project, "broker failed to start: {error}", lambda m: setattr(m, "string", "o broker falhou"))
    edit_entry(project, "there is no worker to kill", lambda m: setattr(m, "string", "nenhum worker em {folder}"))
    problems = message_catalog_problems(project)
    assert any("'broker failed to start: {error}' drops the placeholder(s) {error}" in p for p in problems), problems
    assert any("'there is no worker to kill' has the placeholder(s) {folder}" in p for p in problems), problems


def test_an_untranslated_argparse_word_is_reported(project):
    path = catalog_path(project, "pt_BR", "argparse")
    catalog = read_catalog(path, "pt_BR")
    catalog["usage: "].string = ""
    write_catalog(path, catalog)
    problems = message_catalog_problems(project)
    assert any("argparse.po: 'usage: ' is not translated" in p for p in problems), problems


def test_update_keeps_translations_marks_changed_ones_fuzzy_and_drops_obsolete_ones(project):
    replace_in_code(project, '_("there is no worker to kill")', '_("there is no worker to kill here")')
    replace_in_code(project, '_("interrupted while joining; left")', '"interrupted while joining; left"')
    update_message_catalog(project)
    catalog = read_po(catalog_path(project, "pt_BR").open("rb"), locale="pt_BR")
    changed = catalog["there is no worker to kill here"]
    assert changed.fuzzy and changed.string == "não há nenhum worker para matar", (changed.flags, changed.string)
    assert catalog["interrupted while joining; left"] is None, "an obsolete entry was kept"
    assert catalog[MESSAGE].string.startswith("já há um cluster rodando aqui"), "a translation was lost"
    assert not template_path(project).read_text().count("#~"), "the template kept obsolete entries"
    problems = message_catalog_problems(project)
    assert any("'there is no worker to kill here' is marked fuzzy" in p for p in problems), problems


def test_update_and_build_change_nothing_when_all_is_fresh(project):
    assert update_message_catalog(project) == []
    assert build_message_catalog(project) == []
