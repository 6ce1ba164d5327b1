"""The exercises' checks speak Brazilian Portuguese with LABAPP_LANG=pt_BR and English without it (no cluster).

The messages are built from made-up answers, the way tests/unit/test_checks.py builds them; the messages only a
cluster reaches are covered in tests/integration/test_checks.py. Two whole-file tests keep every future message
in the catalog: each sentence in labapp/checks.py goes through _() or ngettext(), and each of those has a
Portuguese translation with the same placeholders and the same numbers.
"""

from __future__ import annotations

import ast
import contextlib
import gettext
import io
import random
import re
import types
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from celery import Celery, chord, group, signature

from labapp import checks, i18n
from labapp.checks import CheckFailed

CHECKS = Path(checks.__file__)
CATALOG = i18n.LOCALE_DIR / "pt_BR" / "LC_MESSAGES" / "labapp.po"
TRANSLATING = {"_", "ngettext"}
# sentences in checks.py that are not messages: text matched against what Celery, Python or a client wrote,
# or a request body the check sends; a person never reads them from the check, so they stay as they are
NOT_MESSAGES = {
    "Received unregistered task of type '{}'",  # a Celery worker's log line
    "Exceeds the limit",  # Python's int->str error
    "must not be zero",  # Python's range() error
    "missing 1 required positional argument: 'parts'",  # Python's TypeError
    "positional argument",
    "timed out",
    "not json",  # a bad body ex02's endpoint must refuse
}


def message(call) -> str:
    """What a check says for this call: the problem it returns, its ✗ line or its ✓ line."""
    random.seed(18)  # the checks draw fresh inputs; both languages must see the same ones
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            returned = call()
    except CheckFailed as failed:
        return str(failed)
    return returned if isinstance(returned, str) else out.getvalue()


def numbers(text: str) -> list[str]:
    """The numbers in a text, in order: they must read the same in both languages."""
    return re.findall(r"\d+", text)


def in_both(monkeypatch, call) -> tuple[str, str]:
    """The same call's message without LABAPP_LANG, then with LABAPP_LANG=pt_BR."""
    monkeypatch.delenv("LABAPP_LANG", raising=False)
    english = message(call)
    monkeypatch.setenv("LABAPP_LANG", "pt_BR")
    return english, message(call)


# ------------------------------------------------------------------ what a student sees
def test_the_off_by_one_message_speaks_portuguese_with_labapp_lang(monkeypatch):
    outcome = {"state": "SUCCESS", "result": {"n": 7, "digits": 3, "value": "720"}, "error": "", "traceback": ""}
    english, portuguese = in_both(
        monkeypatch, lambda: checks._factorial_problem("ex01", 7, outcome, "ex01_tasks.factorial")
    )
    assert english == (
        "expected 7! = 5040, found 720 = 6!: off by one? math.factorial(n) or a product over range(1, n + 1)."
    )
    assert portuguese == (
        "esperado 7! = 5040, encontrado 720 = 6!: erro de uma unidade (off-by-one)? "
        "Use math.factorial(n) ou um produto sobre range(1, n + 1)."
    )


@pytest.mark.parametrize("value", ["pt_BR", "pt-BR", "pt", "pt_BR.UTF-8", " PT-br "])
def test_each_name_of_brazilian_portuguese_chooses_it(monkeypatch, value):
    monkeypatch.setenv("LABAPP_LANG", value)
    assert checks._failure_text("") == "um erro sem mensagem"


@pytest.mark.parametrize("value", [None, "", "en", "fr_FR", "klingon"])
def test_english_is_the_default_and_the_fallback(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("LABAPP_LANG", raising=False)
    else:
        monkeypatch.setenv("LABAPP_LANG", value)
    assert checks._failure_text("") == "an error without a message"


def test_the_passed_line_and_the_plural_of_cores_are_portuguese(monkeypatch):
    monkeypatch.setenv("LABAPP_LANG", "pt_BR")
    assert message(lambda: checks.judge_ex03_answer({1: 10, 2: 19, 4: 19.5}, 2, cores=2)).startswith(
        "\u2713 ex03 aprovado: measure() enviou o lote inteiro"
    )
    one = message(lambda: checks.judge_ex03_answer({1: 10, 2: 19, 4: 19.5}, 4, cores=1))
    two = message(lambda: checks.judge_ex03_answer({1: 10, 2: 19, 4: 30}, 4, cores=2))
    assert "em 1 núcleo: 1 núcleo faz no máximo 1×" in one, one
    assert "em 2 núcleos: 2 núcleos fazem no máximo 2×" in two, two


def outcome(state="FAILURE", trace="", result=None):
    """A finished factorial task, as run_task reports it."""
    return {
        "state": state,
        "traceback": trace,
        "error": trace.strip().splitlines()[-1] if trace.strip() else "",
        "result": result,
    }


def observed(rate, sent, done, unfinished=0, running=2, ran_on=("w1@h", "w2@h")):
    """An observed run of measure(2), as check_ex03 records it (times in seconds)."""
    return {"rate": rate, "sent": sent, "done": done, "unfinished": unfinished, "running": running,
            "ran_on": set(ran_on), "returned": max(done) + 0.01}  # fmt: skip


PARALLEL = dict(sent=[0.0, 0.001, 0.002, 0.003], done=[0.1, 0.1, 0.2, 0.2])  # 4 tasks, 2 at a time: 0.2 s
NODES = {"w1": "w1@h", "w2": "w2@h", "w3": "w3@h"}


def splitting(answer):
    """A student's split() that gives this answer (or raises it)."""

    def split(n, parts):
        if isinstance(answer, BaseException):
            raise answer
        return answer(n, parts)

    return split


def right_split(n, parts):
    """split() as the solution writes it."""
    return [(1 + round(i * n / parts), 1 + round((i + 1) * n / parts)) for i in range(parts)]


def chord_answer(result):
    """check_ex04 with a right split() and a factorial_in_parts() that returns this."""
    return lambda: checks.check_ex04(right_split, lambda n, parts: result)


def route_of(table):
    """A student's route() that looks the name up in this table."""
    return lambda name: table[name]


def stand_in(loaded=None, logs=""):
    """What _require_module and _not_run_hint read of a cluster: its loaded modules and its workers' logs."""
    return types.SimpleNamespace(
        student_tasks=loaded or {}, student_routes=loaded or {}, workers={"w1": None}, logs=lambda w, tail: logs
    )


APP = Celery(set_as_current=False)
TID = "2f0c-task-id"
FACTORIAL = "ex01_tasks.factorial"

MESSAGES = {  # every message a pure part of the checks builds, on made-up answers
    "ex01 stub": lambda: checks._factorial_problem("ex01", 7, outcome(trace="NotImplementedError"), FACTORIAL),
    "ex01 digit limit": lambda: checks._factorial_problem(
        "ex01", 5000, outcome(trace="ValueError: Exceeds the limit (4300 digits)"), FACTORIAL
    ),
    "ex01 signature": lambda: checks._factorial_problem(
        "ex01", 7, outcome(trace="TypeError: factorial() missing 1 required positional argument: 'n'"), FACTORIAL
    ),
    "ex01 other failure": lambda: checks._factorial_problem("ex01", 7, outcome(trace="KeyError: 'x'"), FACTORIAL),
    "ex01 failure without text": lambda: checks._factorial_problem("ex01", 7, outcome(trace=" "), FACTORIAL),
    "ex01 not a dict": lambda: checks._factorial_problem("ex01", 7, outcome("SUCCESS", result=5040), FACTORIAL),
    "ex01 int value": lambda: checks._factorial_problem(
        "ex01", 7, outcome("SUCCESS", result={"n": 7, "digits": 4, "value": 5040}), FACTORIAL
    ),
    "ex01 off by one": lambda: checks._factorial_problem(
        "ex01", 7, outcome("SUCCESS", result={"n": 7, "digits": 5, "value": "40320"}), FACTORIAL
    ),
    "ex01 wrong value, long": lambda: checks._factorial_problem(
        "ex01", 30, outcome("SUCCESS", result={"n": 30, "digits": 5, "value": "1" * 30}), FACTORIAL
    ),
    "ex01 wrong digits": lambda: checks._factorial_problem(
        "ex01", 7, outcome("SUCCESS", result={"n": 7, "digits": 3, "value": "5040"}), FACTORIAL
    ),
    "ex01 not loaded": lambda: checks._require_module(stand_in(), "ex01", "ex01_tasks"),
    "ex01 another module loaded": lambda: checks._require_module(stand_in({"ex06_tasks": "x"}), "ex01", "ex01_tasks"),
    "ex02 not loaded": lambda: checks._require_module(stand_in(), "ex02", "ex02_routes", kind="routes"),
    "ex01 not run": lambda: checks._not_run_hint(stand_in(), FACTORIAL, "ex01_tasks"),
    "ex01 unregistered": lambda: checks._not_run_hint(
        stand_in(logs=f"Received unregistered task of type '{FACTORIAL}'"), FACTORIAL, "ex01_tasks"
    ),
    "ex02 pending is not unknown": lambda: checks._pending_is_not_unknown(),
    "ex02 bad bodies": lambda: " | ".join(checks._bad_bodies().values()),
    "ex03 not a rate": lambda: checks._batch_problem(observed(True, **PARALLEL), 2, 4),
    "ex03 sent none": lambda: checks._batch_problem(observed(19.0, sent=[], done=[1.0]), 2, 4),
    "ex03 part of the batch": lambda: checks._batch_problem(observed(19.0, sent=[0.0, 0.001], done=[0.1, 0.1]), 2, 4),
    "ex03 never waited": lambda: checks._batch_problem(observed(400.0, **PARALLEL, unfinished=4), 2, 4),
    "ex03 never scaled": lambda: checks._batch_problem(observed(19.0, **PARALLEL, running=1), 2, 4),
    "ex03 one at a time": lambda: checks._batch_problem(
        observed(9.5, sent=[0.0, 0.1, 0.2, 0.3], done=[0.1, 0.2, 0.3, 0.4]), 2, 4
    ),
    "ex03 one worker": lambda: checks._batch_problem(observed(19.0, **PARALLEL, ran_on=["w1@h"]), 2, 4),
    "ex03 seconds, not a rate": lambda: checks._batch_problem(observed(0.21, **PARALLEL), 2, 4),
    "ex03 clock stopped early": lambda: checks._batch_problem(observed(60.0, **PARALLEL), 2, 4),
    "ex03 clock included scaling": lambda: checks._batch_problem(observed(4.0, **PARALLEL), 2, 4),
    "ex03 empty table": lambda: checks.judge_ex03_answer({}, 2, cores=2),
    "ex03 table without 4": lambda: checks.judge_ex03_answer({1: 10, 2: 19}, 2, cores=2),
    "ex03 negative figure": lambda: checks.judge_ex03_answer({1: 10, 2: -1, 4: 3}, 2, cores=2),
    "ex03 no answer": lambda: checks.judge_ex03_answer({1: 10, 2: 19, 4: 19.5}, ..., cores=2),
    "ex03 not a worker count": lambda: checks.judge_ex03_answer({1: 10, 2: 19, 4: 19.5}, 19.5, cores=2),
    "ex03 stale table": lambda: checks.judge_ex03_answer({1: 10, 2: 27, 4: 28}, 2, cores=2),
    "ex03 impossible on 2 cores": lambda: checks.judge_ex03_answer({1: 10, 2: 19, 4: 30}, 4, cores=2),
    "ex03 impossible on 1 core": lambda: checks.judge_ex03_answer({1: 10, 2: 19, 4: 19.5}, 4, cores=1),
    "ex03 kept scaling": lambda: checks.judge_ex03_answer({1: 10, 2: 13, 4: 20}, 4, cores=2),
    "ex03 kept growing": lambda: checks.judge_ex03_answer({1: 10, 2: 20, 4: 39}, 2, cores=4),
    "ex03 wrong plateau": lambda: checks.judge_ex03_answer({1: 10, 2: 19, 4: 19.5}, 4, cores=2),
    "ex03 passed": lambda: checks.judge_ex03_answer({1: 10, 2: 19, 4: 19.5}, 2, cores=2),
    "ex04 stub": lambda: checks.check_ex04(splitting(NotImplementedError()), None),
    "ex04 crash": lambda: checks.check_ex04(splitting(KeyError("lo")), None),
    "ex04 step of zero": lambda: checks.check_ex04(  # right until parts > n, where n // parts is 0
        lambda n, parts: right_split(n, parts) if n >= parts else list(range(1, n + 1, n // parts)), None
    ),
    "ex04 not pairs": lambda: checks.check_ex04(splitting(lambda n, parts: 42), None),
    "ex04 off by one": lambda: checks.check_ex04(splitting(lambda n, parts: [(1, n)]), None),
    "ex04 doubled": lambda: checks._split_problem(10, 2, [(1, 6), (5, 11)]),
    "ex04 remainder dropped": lambda: checks.check_ex04(
        splitting(lambda n, parts: [(1 + i * (n // parts), 1 + (i + 1) * (n // parts)) for i in range(parts)]), None
    ),
    "ex04 one range too many": lambda: checks._split_problem(10, 3, [(1, 4), (4, 7), (7, 10), (10, 11)]),
    "ex04 past n": lambda: checks._split_problem(10, 2, [(1, 6), (6, 12)]),
    "ex04 chord never sent": chord_answer(chord([signature("ex04_tasks.product")], signature("ex04_tasks.combine"))),
    "ex04 group never sent": chord_answer(group([signature("ex04_tasks.product")])),
    "ex04 a signature": chord_answer(signature("ex04_tasks.product")),
    "ex04 a group's results": chord_answer(APP.GroupResult("g", [APP.AsyncResult("a")])),
    "ex04 the value": chord_answer(42),
    "ex04 something else": chord_answer(None),
    "ex04 a divisor": lambda: checks._value_problem("12", 5),
    "ex04 a wrong value": lambda: checks._value_problem("7", 5),
    "ex05 stub": lambda: checks._ex05_routes(splitting(NotImplementedError())),
    "ex05 short names in a table": lambda: checks._ex05_routes(route_of({"crunch": "cpu", "fetch": "io"})),
    "ex05 router signature": lambda: checks._ex05_routes(lambda name, args, kwargs, options: "cpu"),
    "ex05 task_routes form": lambda: checks._ex05_routes(lambda name: {"queue": "cpu"}),
    "ex05 not a str": lambda: checks._ex05_routes(lambda name: 3),
    "ex05 one queue": lambda: checks._ex05_routes(lambda name: "celery"),
    "ex05 short names matched": lambda: checks._ex05_routes(
        lambda name: {"crunch": "cpu", "fetch": "io"}.get(name, "q")
    ),
    "ex05 swapped": lambda: checks._ex05_routes(route_of({"ex05_tasks.crunch": "io", "ex05_tasks.fetch": "cpu"})),
    "ex05 other names": lambda: checks._ex05_routes(route_of({"ex05_tasks.crunch": "c", "ex05_tasks.fetch": "i"})),
    "ex05 bare names": lambda: checks._dedicate_problem(
        {"w1@h": {"celery"}, "w2@h": {"celery"}, "w3@h": {"celery"}}, [("add_consumer", "io", ["w1"])], NODES
    ),
    "ex05 no io consumer": lambda: checks._dedicate_problem(
        {"w1@h": set(), "w2@h": {"cpu"}, "w3@h": {"cpu"}}, [("add_consumer", "cpu", ["w2@h"])], NODES
    ),
    "ex05 everyone on both": lambda: checks._dedicate_problem(
        {"w1@h": {"io", "cpu"}, "w2@h": {"io", "cpu"}, "w3@h": {"io", "cpu"}}, [("add_consumer", "io", None)], NODES
    ),
    "ex05 one on both": lambda: checks._dedicate_problem(
        {"w1@h": {"io", "cpu"}, "w2@h": {"cpu"}, "w3@h": {"cpu"}}, [("add_consumer", "io", ["w1@h"])], NODES
    ),
    "ex05 default queue kept": lambda: checks._dedicate_problem(
        {"w1@h": {"io", "celery"}, "w2@h": {"cpu"}, "w3@h": {"cpu"}}, [], NODES
    ),
    "ex05 wrong roles": lambda: checks._dedicate_problem({"w1@h": {"cpu"}, "w2@h": {"io"}, "w3@h": {"cpu"}}, [], NODES),
    "ex06 twice, key expired": lambda: checks._ex06_twice_problem("item-1", 2, TID, {f"done:{TID}": 30}, {}),
    "ex06 twice, no nx": lambda: checks._ex06_twice_problem("item-1", 2, TID, {f"done:{TID}": -1}, {f"done:{TID}": -1}),
    "ex06 twice, key without the id": lambda: checks._ex06_twice_problem("item-1", 2, TID, {"done:1234": -1}, {}),
    "ex06 twice, no key": lambda: checks._ex06_twice_problem("item-1", 2, TID, {}, {}),
    "a long number": lambda: checks._short("1" * 30),
    "an api error without a log": lambda: checks._student_error(types.SimpleNamespace(dir=Path("/nowhere")), ""),
}


@pytest.mark.parametrize("case", list(MESSAGES))
def test_every_message_has_a_portuguese_twin_with_the_same_numbers(monkeypatch, case):
    english, portuguese = in_both(monkeypatch, MESSAGES[case])
    assert english.strip(), "the made-up answer gave no message: the case no longer reaches it"
    assert portuguese != english, english
    assert numbers(portuguese) == numbers(english), (english, portuguese)


# ------------------------------------------------------------------ the whole file, and the catalog
def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Each node's parent."""
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def translating(node: ast.AST) -> bool:
    """True for a call of _() or ngettext()."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in TRANSLATING


TREE = ast.parse(CHECKS.read_text())
PARENT = parents(TREE)


def is_docstring(node: ast.AST) -> bool:
    """True for a module's, class's or function's docstring."""
    statement = PARENT.get(node)
    return isinstance(statement, ast.Expr) and isinstance(
        PARENT.get(statement), (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    )


def text_of(node: ast.AST) -> str:
    """A string literal's text; an f-string's with {} for each value."""
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)
    return node.value


def untranslated_sentences() -> list[str]:
    """Sentences written in checks.py outside _() and ngettext() (docstrings and NOT_MESSAGES aside)."""
    found = []
    for node in ast.walk(TREE):
        is_text = isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))
        if not is_text or isinstance(PARENT.get(node), ast.JoinedStr) or is_docstring(node):
            continue
        ancestor = PARENT.get(node)
        while ancestor is not None and not translating(ancestor):
            ancestor = PARENT.get(ancestor)
        text = text_of(node)
        if ancestor is None and re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", text) and text not in NOT_MESSAGES:
            found.append(f"line {node.lineno}: {text!r}")
    return found


def test_every_sentence_of_the_checks_goes_through_the_catalog():
    assert untranslated_sentences() == []


def catalog_calls() -> list[ast.Call]:
    """Every _() and ngettext() call in checks.py."""
    return [node for node in ast.walk(TREE) if translating(node)]


def inside_an_f_string(node: ast.AST) -> bool:
    """True for a node within an f-string's braces (Babel's extractor does not look there)."""
    ancestor = PARENT.get(node)
    while ancestor is not None and not isinstance(ancestor, ast.JoinedStr):
        ancestor = PARENT.get(ancestor)
    return ancestor is not None


def test_every_translated_message_is_one_whole_literal_babel_can_extract():
    """Never _(f"..."), _(variable), _("a" + "b") or f"{_('a')}": Babel extracts literals, outside f-strings."""
    wrong = [
        f"line {call.lineno}"
        for call in catalog_calls()
        if not all(isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in call.args[:2])
        or len(call.args) != (1 if call.func.id == "_" else 3)
        or inside_an_f_string(call)
    ]
    assert wrong == []


def placeholders(text: str) -> list[str]:
    """The {placeholders} of a message, sorted ({{ and }} are literal braces)."""
    return sorted(re.findall(r"(?<!\{)\{[^{}]*\}(?!\})", text.replace("{{", "").replace("}}", "")))


def test_each_message_of_the_checks_has_a_complete_portuguese_translation():
    compiled = gettext.translation(i18n.DOMAIN, i18n.LOCALE_DIR, languages=["pt_BR"])
    problems = []
    for call in catalog_calls():
        if call.func.id == "_":
            pairs = [(call.args[0].value, compiled.gettext(call.args[0].value))]
        else:
            singular, plural = call.args[0].value, call.args[1].value
            pairs = [
                (singular, compiled.ngettext(singular, plural, 1)),
                (plural, compiled.ngettext(singular, plural, 2)),
            ]
        for english, portuguese in pairs:
            if portuguese == english:
                problems.append(f"line {call.lineno}: not translated: {english!r}")
            elif placeholders(portuguese) != placeholders(english) or numbers(portuguese) != numbers(english):
                problems.append(f"line {call.lineno}: other placeholders or numbers: {portuguese!r}")
    assert problems == []


def test_the_compiled_catalog_is_the_po_file_compiled():
    """labapp.mo says what labapp.po says, and no entry is fuzzy (pybabel compile would leave it out)."""
    with CATALOG.open("rb") as po:
        entries = [entry for entry in read_po(po) if entry.id]
    compiled = gettext.translation(i18n.DOMAIN, i18n.LOCALE_DIR, languages=["pt_BR"])
    stale = []
    for entry in entries:
        if entry.fuzzy or not all(entry.string if isinstance(entry.string, tuple) else (entry.string,)):
            stale.append(f"unfinished: {entry.id!r}")
        elif isinstance(entry.id, tuple):
            if [compiled.ngettext(*entry.id, n) for n in (1, 2)] != list(entry.string[:2]):
                stale.append(f"not compiled: {entry.id[0]!r}")
        elif compiled.gettext(entry.id) != entry.string:
            stale.append(f"not compiled: {entry.id!r}")
    assert stale == [], "run: pybabel compile -D labapp -d labapp/locale -l pt_BR"


def test_ex04_picks_the_same_mistake_in_both_languages(monkeypatch):
    """The remainder mistake is told only when every wrong case is one: decided by kind, never by the words."""

    def split(n, parts):  # drops the remainder for (10, 3), then misses n itself for every other n
        return [(1, 4), (4, 7), (7, 10)] if (n, parts) == (10, 3) else [(1, n)]

    english, portuguese = in_both(monkeypatch, lambda: checks.check_ex04(split, None))
    assert english.startswith("ex04: expected split(10, 4) to cover 1..10 once") and "off by one?" in english
    assert portuguese.startswith("ex04: esperado que split(10, 4) cobrisse 1..10") and "off-by-one" in portuguese
