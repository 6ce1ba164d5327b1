"""Messages in the reader's language: ``_`` and ``ngettext`` over gettext's ``labapp`` domain.

``LABAPP_LANG`` chooses, read at each call: ``pt_BR``, ``pt-BR`` or ``pt`` mean Brazilian Portuguese;
unset, empty, ``en`` or anything else means English, the source, with no catalog read at all. Every layer
may import this module (it imports nothing of ``labapp``). Messages are whole sentences with named
``{placeholders}`` filled by ``.format()`` after translation, so Babel extracts them and a translator
can reorder the words.
"""

from __future__ import annotations

import functools
import gettext
import os
from pathlib import Path

DOMAIN = "labapp"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
_PORTUGUESE = ("pt_br", "pt")


def language() -> str:
    """The language LABAPP_LANG asks for: "pt_BR" or "en" (an unknown one is English)."""
    wanted = os.environ.get("LABAPP_LANG", "").strip().split(".")[0].replace("-", "_").lower()
    return "pt_BR" if wanted in _PORTUGUESE else "en"


@functools.cache
def translation(lang: str, domain: str = DOMAIN) -> gettext.NullTranslations:
    """The catalog of a language and domain, read once; English (the source) reads none."""
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(domain, LOCALE_DIR, languages=[lang], fallback=True)


def _(message: str) -> str:
    """message in the language LABAPP_LANG asks for."""
    return translation(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """singular or plural, for the count n, in the language LABAPP_LANG asks for."""
    return translation(language()).ngettext(singular, plural, n)
