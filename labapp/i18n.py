"""The package's messages in the reader's language: English by default, Brazilian Portuguese with LABAPP_LANG=pt_BR."""

from __future__ import annotations

import functools
import gettext
import os
from pathlib import Path

DOMAIN = "labapp"
LOCALE_DIR = Path(__file__).parent / "locale"
PORTUGUESE = {"pt_br", "pt-br", "pt"}


def language() -> str:
    """'pt_BR' when LABAPP_LANG asks for Brazilian Portuguese (pt_BR, pt-BR, pt), else 'en'."""
    value = os.environ.get("LABAPP_LANG", "").strip().split(".")[0].lower()
    return "pt_BR" if value in PORTUGUESE else "en"


@functools.lru_cache(maxsize=None)
def _catalog(lang: str) -> gettext.NullTranslations:
    """The compiled catalog of one language (English, or a missing catalog: the messages as written)."""
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def _(message: str) -> str:
    """The message in the language LABAPP_LANG names now."""
    return _catalog(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural message for n, in the language LABAPP_LANG names now."""
    return _catalog(language()).ngettext(singular, plural, n)
