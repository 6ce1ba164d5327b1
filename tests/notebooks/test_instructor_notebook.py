"""Issue 21: the instructor's notebook (classroom, progress grid, reveal) never reaches a student."""

from labapp.authoring import pack
from tests.support.paths import ROOT

INSTRUCTOR_FILES = (
    "notebooks/instructor.ipynb",
    "notebooks/pt-BR/instructor.ipynb",
    "labapp/locale/pt_BR/workbook/notebooks/instructor.po",
)


def test_the_instructor_notebook_and_its_translations_are_instructor_only():
    assert [name for name in INSTRUCTOR_FILES if not pack.instructor_only(name)] == []
    assert not pack.instructor_only("notebooks/08_beyond_one_machine.ipynb")


def test_the_student_pack_holds_no_instructor_notebook(tmp_path):
    assert (ROOT / "notebooks" / "instructor.ipynb").is_file()  # it exists here, so leaving it out is a choice
    dest = tmp_path / "pack"
    files = pack.pack(ROOT, dest)
    assert [name for name in files if name.rsplit("/", 1)[-1].startswith("instructor.")] == []
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("instructor.*")) == []
    assert (dest / "notebooks" / "08_beyond_one_machine.ipynb").is_file()
