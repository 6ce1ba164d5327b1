"""The package's message catalogs: Babel extracts ``labapp/**/*.py`` into ``labapp.pot``, updates pt_BR's
``labapp.po`` from it and compiles every ``.po`` of ``locale/pt_BR/LC_MESSAGES`` into its ``.mo``.

``message_catalog_problems`` says in plain words what is stale, untranslated or wrong, for the test that keeps
the catalogs complete and fresh. Locations are written without line numbers, so moving code does not make
the catalogs stale; changing or adding a message does. Babel is needed here only (a dev dependency): the
package reads the compiled ``.mo`` with the standard library's gettext.
"""

from __future__ import annotations

import io
import re
import string
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

DOMAIN = "labapp"
LANGUAGES = ("pt_BR",)
KEYWORDS = {"_": None, "ngettext": (1, 2)}
WIDTH = 100
PLURAL_FORMS = {"pt_BR": (2, "(n > 1)")}


def locale_dir(root) -> Path:
    """The package's locale folder under the project's root."""
    return Path(root) / "labapp" / "locale"


def template_path(root) -> Path:
    """labapp/locale/labapp.pot."""
    return locale_dir(root) / f"{DOMAIN}.pot"


def catalog_path(root, lang: str, domain: str = DOMAIN) -> Path:
    """labapp/locale/<lang>/LC_MESSAGES/<domain>.po."""
    return locale_dir(root) / lang / "LC_MESSAGES" / f"{domain}.po"


def extract(root) -> Catalog:
    """A fresh template: every ``_()`` and ``ngettext()`` message of labapp/**/*.py, in file order."""
    root = Path(root)
    template = Catalog(project="labapp", domain=DOMAIN, charset="utf-8", fuzzy=False)
    for path in sorted((root / "labapp").rglob("*.py")):
        where = path.relative_to(root).as_posix()
        for _lineno, message, comments, context in extract_from_file(
            "python", str(path), keywords=KEYWORDS, comment_tags=("Translators:",), strip_comment_tags=True
        ):
            template.add(message, None, [(where, None)], auto_comments=comments, context=context)
    return template


def read_catalog(path: Path, lang: str | None = None) -> Catalog:
    """A .po or .pot file, read by Babel."""
    with path.open("rb") as handle:
        return read_po(handle, locale=lang, domain=path.stem)


def write_catalog(path: Path, catalog: Catalog) -> bool:
    """Write a catalog as Babel's update does (no line numbers, no obsolete entries) if it changed."""
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=WIDTH, ignore_obsolete=True, include_lineno=False)
    if path.exists() and _without_dates(path.read_bytes()) == _without_dates(buffer.getvalue()):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return True


def _without_dates(text: bytes) -> bytes:
    """A catalog's text less the header lines that change at every write (dates, Babel's version)."""
    return re.sub(rb'^"(POT-Creation-Date|PO-Revision-Date|Generated-By): .*\n', b"", text, flags=re.M)


def update_message_catalog(root) -> list[Path]:
    """Extract labapp.pot afresh and update every language's labapp.po from it; the files written."""
    template = extract(root)
    written = [template_path(root)] if write_catalog(template_path(root), template) else []
    for lang in LANGUAGES:
        path = catalog_path(root, lang)
        catalog = read_catalog(path, lang) if path.exists() else _new_catalog(lang)
        catalog.update(template, update_header_comment=False, update_creation_date=False)
        if write_catalog(path, catalog):
            written.append(path)
    return written


def _new_catalog(lang: str) -> Catalog:
    """An empty catalog for a language, as ``pybabel init`` starts one."""
    catalog = Catalog(locale=lang, domain=DOMAIN, project="labapp", charset="utf-8", fuzzy=False)
    catalog.language_team = f"{lang} <LL@li.org>"
    # gettext's usual rule for Brazilian Portuguese (0 and 1 singular), not CLDR's three forms
    catalog._num_plurals, catalog._plural_expr = PLURAL_FORMS[lang]
    return catalog


def compiled(path: Path) -> bytes:
    """The .mo bytes of a .po file (fuzzy entries left out, as gettext would ignore them)."""
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(path, path.parent.parent.name))
    return buffer.getvalue()


def build_message_catalog(root) -> list[Path]:
    """Compile every .po of every language into its .mo; the files written."""
    written = []
    for lang in LANGUAGES:
        for po in sorted(catalog_path(root, lang).parent.glob("*.po")):
            mo = po.with_suffix(".mo")
            data = compiled(po)
            if not mo.exists() or mo.read_bytes() != data:
                mo.write_bytes(data)
                written.append(mo)
    return written


def message_catalog_problems(root) -> list[str]:
    """What is stale or wrong in the message catalogs, one plain sentence each; [] when all is well."""
    root = Path(root)
    fresh = extract(root)
    problems = _template_problems(root, fresh)
    for lang in LANGUAGES:
        path = catalog_path(root, lang)
        if not path.exists():
            problems.append(f"{_shown(root, path)} is missing: run `labapp i18n update`")
            continue
        problems += _coverage_problems(root, path, fresh)
        for po in sorted(path.parent.glob("*.po")):
            problems += _entry_problems(root, po) + _compile_problems(root, po)
    return problems


def _shown(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _key(message) -> tuple:
    return (message.id, message.context)


def _label(message) -> str:
    text = message.id[0] if isinstance(message.id, tuple) else message.id
    return repr(text if len(text) <= 70 else text[:67] + "...")


def _template_problems(root: Path, fresh: Catalog) -> list[str]:
    """Where labapp.pot differs from a fresh extraction of the code."""
    path = template_path(root)
    if not path.exists():
        return [f"{_shown(root, path)} is missing: run `labapp i18n update`"]
    stored = read_catalog(path)
    stored_keys, fresh_keys = {_key(m) for m in stored if m.id}, {_key(m) for m in fresh if m.id}
    problems = [
        f"{_shown(root, path)} lacks the message {_label(m)} of {m.locations[0][0]}: run `labapp i18n update`"
        for m in fresh
        if m.id and _key(m) not in stored_keys
    ]
    problems += [
        f"{_shown(root, path)} still has the message {_label(m)}, which the code no longer has: "
        "run `labapp i18n update`"
        for m in stored
        if m.id and _key(m) not in fresh_keys
    ]
    if not problems and _rendered(stored) != _rendered(fresh):
        problems.append(f"{_shown(root, path)} differs from a fresh extraction (order, places or comments)")
    return problems


def _rendered(catalog: Catalog) -> list[tuple]:
    return [(_key(m), tuple(m.locations), tuple(m.auto_comments)) for m in catalog if m.id]


def _coverage_problems(root: Path, path: Path, fresh: Catalog) -> list[str]:
    """The messages of the code that a language's labapp.po lacks, and the ones it has in excess."""
    keys = {_key(m) for m in read_catalog(path) if m.id}
    fresh_keys = {_key(m) for m in fresh if m.id}
    lacks = [
        f"{_shown(root, path)} lacks the message {_label(m)} of {m.locations[0][0]}: run `labapp i18n update`"
        for m in fresh
        if m.id and _key(m) not in keys
    ]
    extra = [
        f"{_shown(root, path)} has the message {_label(m)}, which the code no longer has: run `labapp i18n update`"
        for m in read_catalog(path)
        if m.id and _key(m) not in fresh_keys
    ]
    return lacks + extra


def _entry_problems(root: Path, po: Path) -> list[str]:
    """Untranslated and fuzzy entries, and translations whose placeholders differ from the English."""
    problems = []
    catalog = read_catalog(po, po.parent.parent.name)
    if catalog.fuzzy:
        problems.append(f"{_shown(root, po)}'s header is marked fuzzy: remove the flag once it is right")
    for message in catalog:
        if not message.id:
            continue
        where = f"{_shown(root, po)}: {_label(message)}"
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            problems.append(f"{where} is not translated")
        elif message.fuzzy:
            problems.append(f"{where} is marked fuzzy (its English changed): check the translation, then unmark it")
        else:
            problems += [f"{where} {wrong}" for wrong in _placeholder_problems(message.id, strings)]
    return problems


def _placeholder_problems(msgid, strings: tuple) -> list[str]:
    """How each translation's placeholders differ from its English original's."""
    originals = msgid if isinstance(msgid, tuple) else (msgid,)
    expected = placeholders(originals[-1])
    problems = []
    for translated in strings:
        found = placeholders(translated)
        if found - expected:
            problems.append(f"has the placeholder(s) {_listed(found - expected)}, which the English does not have")
        if expected - found and not (len(originals) > 1 and expected - found <= {"{n}", "{count}"}):
            problems.append(f"drops the placeholder(s) {_listed(expected - found)} of the English")
    return problems


def _listed(names: set[str]) -> str:
    return ", ".join(sorted(names))


def placeholders(text: str) -> set[str]:
    """The {named} and %(named)s placeholders of a message, as written ({0}, {} and %s count too)."""
    found = {f"%({name})" for name in re.findall(r"%\((\w+)\)", text)}
    found |= {"%" + kind for kind in re.findall(r"(?<!%)%([sdr])", text)}
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(text) if field is not None]
    except ValueError:  # a literal brace (a JSON example): not a format string
        return found
    return found | {"{" + re.split(r"[.\[!:]", field)[0] + "}" for field in fields}


def _compile_problems(root: Path, po: Path) -> list[str]:
    """A .mo that is missing or differs from a fresh compile of its .po."""
    mo = po.with_suffix(".mo")
    if not mo.exists():
        return [f"{_shown(root, mo)} is missing: run `labapp i18n build`"]
    if mo.read_bytes() != compiled(po):
        return [f"{_shown(root, mo)} differs from a fresh compile of {po.name}: run `labapp i18n build`"]
    return []
