"""Where the instructor's ``labapp reveal exNN`` publishes solutions: a folder or a Redis.

One tiny interface, two backends, chosen by the location string (``LABAPP_REVEAL_FROM``):
- a folder path (default ``~/.cache/labapp/revealed``): one ``exNN.json`` file per exercise;
- a ``redis://`` or ``rediss://`` URL (the classroom broker): a key ``labapp:revealed:exNN``.
Both hold the same JSON record: ``{"exercise", "parts", "revealed_at"}``, and ``"translations"``
({"pt_BR": parts}) when the project has the solution in another language.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

from labapp.i18n import _

DEFAULT_FOLDER = "~/.cache/labapp/revealed"
KEY_PREFIX = "labapp:revealed:"
EXERCISE = re.compile(r"^ex\d{2}$")


class StoreError(RuntimeError):
    """The reveal store cannot be read or written."""


def check_name(exercise: str) -> str:
    """Return the exercise name if it looks like ``ex01``, else raise ValueError saying so."""
    if not isinstance(exercise, str) or not EXERCISE.match(exercise):
        raise ValueError(_("expected an exercise name like 'ex01', found {name}").format(name=repr(exercise)))
    return exercise


def record(exercise: str, parts: list[str], translations: dict[str, list[str]] | None = None) -> dict:
    """The JSON record published for one exercise; translations: the same parts in other languages (pt_BR: [...])."""
    entry = {
        "exercise": check_name(exercise),
        "parts": list(parts),
        "revealed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if translations:
        entry["translations"] = {lang: list(texts) for lang, texts in translations.items()}
    return entry


def _texts(parts) -> bool:
    return isinstance(parts, list) and bool(parts) and all(isinstance(part, str) for part in parts)


def is_record(entry, exercise: str) -> bool:
    """True when entry has the shape record(exercise, ...) gives: the right exercise, its parts as text."""
    if not isinstance(entry, dict):
        return False
    translations = entry.get("translations", {})
    return (
        entry.get("exercise") == exercise
        and _texts(entry.get("parts"))
        and isinstance(translations, dict)
        and all(isinstance(lang, str) and _texts(parts) for lang, parts in translations.items())
    )


class FolderStore:
    """Revealed exercises as ``exNN.json`` files in a folder on this machine."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder).expanduser()

    def __str__(self) -> str:
        return _("folder {path}").format(path=self.folder)

    def publish(self, entry: dict) -> None:
        """Store one exercise's record (atomically: a reader never sees half a file)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{check_name(entry['exercise'])}.json"
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(entry, indent=1))
            tmp.replace(path)
        except OSError as exc:
            raise StoreError(_("cannot write to the reveal {store}: {error}").format(store=self, error=exc)) from None

    def get(self, exercise: str) -> dict | None:
        """The record of one exercise, or None when it is not revealed."""
        path = self.folder / f"{check_name(exercise)}.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError(_("cannot read {path}: {error}").format(path=path, error=exc)) from None

    def hide(self, exercise: str) -> bool:
        """Withdraw one exercise; True when it was revealed."""
        try:
            (self.folder / f"{check_name(exercise)}.json").unlink()
            return True
        except FileNotFoundError:
            return False

    def names(self) -> list[str]:
        """The revealed exercises, sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("ex*.json") if EXERCISE.match(p.stem))


class RedisStore:
    """Revealed exercises as ``labapp:revealed:exNN`` keys holding JSON, in a Redis."""

    def __init__(self, url: str, timeout: float = 3.0):
        import redis

        self.url = url
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )

    def __str__(self) -> str:
        parts = urlsplit(self.url)  # never print the password
        return f"Redis {parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"

    def _call(self, what: str, function, *args):
        import redis

        try:
            return function(*args)
        except redis.RedisError as exc:
            sentence = {
                "write to": _(
                    "cannot write to the reveal store, {store}: {error}. Is that server running, "
                    "and is LABAPP_REVEAL_FROM right?"
                ),
                "read": _(
                    "cannot read the reveal store, {store}: {error}. Is that server running, "
                    "and is LABAPP_REVEAL_FROM right?"
                ),
            }[what]
            raise StoreError(sentence.format(store=self, error=exc)) from None

    def publish(self, entry: dict) -> None:
        """Store one exercise's record."""
        self._call("write to", self.client.set, KEY_PREFIX + check_name(entry["exercise"]), json.dumps(entry))

    def get(self, exercise: str) -> dict | None:
        """The record of one exercise, or None when it is not revealed."""
        raw = self._call("read", self.client.get, KEY_PREFIX + check_name(exercise))
        try:
            entry = None if raw is None else json.loads(raw)
        except ValueError:
            raise StoreError(
                _("{key} in the {store} is not JSON").format(key=KEY_PREFIX + exercise, store=self)
            ) from None
        if entry is not None and not is_record(entry, exercise):
            raise StoreError(
                _(
                    "{key} in the {store} is not what `labapp reveal` writes: expected a record of {exercise} "
                    "with its code parts, found {found:.80}"
                ).format(key=KEY_PREFIX + exercise, store=self, exercise=exercise, found=raw)
            )
        return entry

    def hide(self, exercise: str) -> bool:
        """Withdraw one exercise; True when it was revealed."""
        return bool(self._call("write to", self.client.delete, KEY_PREFIX + check_name(exercise)))

    def names(self) -> list[str]:
        """The revealed exercises, sorted."""
        keys = self._call("read", lambda: list(self.client.scan_iter(match=KEY_PREFIX + "ex*")))
        return sorted(k[len(KEY_PREFIX) :] for k in keys if EXERCISE.match(k[len(KEY_PREFIX) :]))


def open_store(location: str = "") -> FolderStore | RedisStore:
    """The store at a location: a redis:// URL, a folder path, or '' for the default folder."""
    if location.startswith(("redis://", "rediss://")):
        return RedisStore(location)
    if "://" in location:
        raise ValueError(
            _("expected a folder path or a redis:// URL for the reveal store, found {location}").format(
                location=repr(location)
            )
        )
    return FolderStore(location or DEFAULT_FOLDER)
