"""labapp speaks the reader's language: LABAPP_LANG chooses, English by default (no cluster, no process)."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest

from labapp import i18n, plots
from labapp.bench import BenchRecords
from labapp.cluster import Cluster, ClusterError, Stopped
from labapp.lesson import compare
from labapp.settings import Settings
from labapp.widgets import TaskLauncher, _fixed_table
from tests.support.bench_records import fake_records
from tests.support.package_graph import all_modules


@pytest.fixture
def portuguese(monkeypatch):
    """LABAPP_LANG=pt_BR for one test (read at each call, so no re-import is needed)."""
    monkeypatch.setenv("LABAPP_LANG", "pt_BR")


@pytest.fixture
def english(monkeypatch):
    """The default: LABAPP_LANG unset."""
    monkeypatch.delenv("LABAPP_LANG", raising=False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("pt_BR", "pt_BR"),
        ("pt-BR", "pt_BR"),
        ("pt", "pt_BR"),
        ("PT_br", "pt_BR"),
        ("pt_BR.UTF-8", "pt_BR"),
        ("", "en"),
        ("en", "en"),
        ("de_DE", "en"),
        ("klingon!", "en"),
    ],
)
def test_labapp_lang_names_the_language(monkeypatch, value, expected):
    monkeypatch.setenv("LABAPP_LANG", value)
    assert i18n.language() == expected, f"LABAPP_LANG={value!r}: expected {expected}, found {i18n.language()}"


def test_unset_is_english(english):
    assert i18n.language() == "en"
    assert i18n._("stopped") == "stopped"


def test_a_message_and_a_plural_in_portuguese(portuguese):
    assert i18n._("stopped") == "parado"
    assert i18n.ngettext("{n} worker", "{n} workers", 1).format(n=1) == "1 worker"
    assert i18n.ngettext("{n} worker", "{n} workers", 3).format(n=3) == "3 workers"
    assert i18n.ngettext("{n} tasks per point", "{n} tasks per point", 1).format(n=1) == "1 tarefa por ponto"


def test_an_unknown_message_stays_as_it_is(portuguese):
    assert i18n._("a sentence no catalog has") == "a sentence no catalog has"


def launcher() -> TaskLauncher:
    """The task launcher of a cluster that is not running (no API call is made)."""
    return TaskLauncher(SimpleNamespace(settings=Settings(), client=None))


def test_widget_labels_in_portuguese(portuguese):
    widget = launcher()
    assert widget.submit_button.description == "Enviar"
    assert widget.submit_many_button.description == "Enviar 20"
    assert widget.count.description == "quantas"
    assert "segundos de trabalho simulado" in widget.hint.value
    workers_table = _fixed_table([["w1", "7", "", "0", ""]], [[""] * 5], "")
    assert ">estado</th>" in workers_table and ">tarefa atual</th>" in workers_table, workers_table


def test_widget_labels_in_english_by_default(english):
    widget = launcher()
    assert widget.submit_button.description == "Submit"
    assert widget.submit_many_button.description == "Submit 20"
    assert "seconds of simulated work" in widget.hint.value


def test_a_widget_status_in_portuguese(portuguese):
    widget = launcher()
    assert widget.submit() == []
    assert "o cluster não está rodando: inicie-o primeiro" in widget.status.value


def test_plot_title_and_axes_in_portuguese(portuguese):
    ax = plots.throughput_plot(fake_records()).axes[0]
    assert ax.get_title().startswith("Vazão × workers: tarefas sleep (esperando: limitadas por E/S) de 100 ms")
    assert ax.get_xlabel() == "workers (processos, uma tarefa por vez cada um)"
    assert ax.get_ylabel() == "vazão (tarefas por segundo)"
    assert "medido" in [text.get_text() for text in ax.get_legend().get_texts()]


def test_plot_title_in_english_by_default(english):
    ax = plots.throughput_plot(fake_records()).axes[0]
    assert ax.get_title().startswith("Throughput vs workers: sleep tasks (waiting: I/O-bound) of 100 ms")
    assert ax.get_ylabel() == "throughput (tasks per second)"


def test_numbers_come_out_the_same_in_both_languages(monkeypatch):
    records = fake_records()
    monkeypatch.delenv("LABAPP_LANG", raising=False)
    english_table = records.table().splitlines()
    monkeypatch.setenv("LABAPP_LANG", "pt_BR")
    portuguese_table = records.table().splitlines()
    assert portuguese_table[0] == "Benchmark de escalabilidade: tarefas sleep de 100 ms em 2 núcleos de CPU"
    assert portuguese_table[1].split() == [
        "workers",
        "tarefas",
        "tempo",
        "total",
        "(s)",
        "tarefas/s",
        "aceleração",
        "eficiência",
    ]
    assert [line.split() for line in portuguese_table[2:]] == [line.split() for line in english_table[2:]]


def test_a_cluster_error_in_portuguese(portuguese, tmp_path):
    cluster = Cluster(runtime_dir=str(tmp_path))
    with pytest.raises(ClusterError) as raised:
        cluster.kill_worker()
    assert str(raised.value) == "o cluster não está rodando: rode de novo a célula de início (Cluster(...).start())"
    assert str(Stopped("default", 2, (), True, "embedded")) == "cluster 'default' parado: 2 workers, a API e o broker"
    assert repr(cluster) == "<Cluster 'default' parado: 0 worker, API ->"  # pt_BR's plural rule: 0 and 1 are one


def test_a_cluster_error_in_english_by_default(english, tmp_path):
    cluster = Cluster(runtime_dir=str(tmp_path))
    with pytest.raises(ClusterError) as raised:
        cluster.kill_worker()
    assert str(raised.value) == "the cluster is not running: run the start cell again (Cluster(...).start())"
    assert (
        str(Stopped("default", 1, (), True, "embedded"))
        == "stopped cluster 'default': 1 worker, the API and the broker"
    )
    assert repr(cluster) == "<Cluster 'default' stopped: 0 workers, api ->"


def status_table():
    """A status() table as a cluster with an external broker and a worker without a beat gives it."""
    from labapp.cluster import ProcessTable

    return ProcessTable(
        [
            {"component": "broker", "pid": "-", "alive": "external", "address": "127.0.0.1:6379", "log": "-"},
            {"component": "api", "pid": 11, "alive": True, "address": "http://127.0.0.1:5000", "log": Path("api.log")},
            {"component": "w1", "pid": 12, "alive": False, "address": "w1@host", "log": Path("/elsewhere/w1.log")},
        ]
    )


def test_the_status_table_says_yes_and_no_in_portuguese(portuguese):
    table = status_table()
    lines = [line.split() for line in str(table).splitlines()]
    assert lines[0] == ["componente", "pid", "vivo", "endereço", "log"]
    assert lines[1][2:5] == ["externo", "(não", "iniciado"], lines[1]
    assert lines[2][2] == "sim" and lines[3][2] == "não", lines
    assert "<td>sim</td>" in table._repr_html_() and "True" not in table._repr_html_()
    assert table[1]["alive"] is True  # the rows keep their values for code that reads them


def test_the_status_table_says_yes_and_no_in_english(english):
    lines = [line.split() for line in str(status_table()).splitlines()]
    assert [line[2] for line in lines] == ["alive", "external", "yes", "no"]
    # a log in the current folder is shown relative to it, one elsewhere in full
    assert (lines[2][-1], lines[3][-1]) == ("api.log", "/elsewhere/w1.log")


def test_a_computed_sentence_in_portuguese(portuguese, capsys):
    compare(2, 2.1)
    assert capsys.readouterr().out == "você chutou 2 s, levou 2.10 s: chegou perto\n"


def test_a_bad_argument_in_portuguese(portuguese):
    with pytest.raises(ValueError, match="workers deve ser um número inteiro de 0 a"):
        Cluster(workers=-1)


def top_level_imports(source: str) -> set[str]:
    """The top-level packages a module's source imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_catalog_tooling_imports_babel():
    """Babel is a dev dependency: the package reads compiled catalogs with the standard library's gettext."""
    importers = [name for name, source in all_modules().items() if "babel" in top_level_imports(source)]
    assert importers == ["labapp.authoring.message_catalog"], f"expected only the catalog tooling, found {importers}"


def test_records_without_kind_say_tasks(portuguese):
    assert BenchRecords([], cores=4).title == "tarefas em 4 núcleos de CPU"


def test_reveal_asks_in_portuguese_and_takes_sim(portuguese, monkeypatch):
    from labapp import reveal

    asked = []
    monkeypatch.setattr("builtins.input", lambda question: asked.append(question) or "sim")
    assert reveal._ask("ex01") is True
    assert asked == [
        "Revelar a solução de ex01? Ela vai aparecer numa nova célula abaixo, então tente fazer o exercício "
        "antes. Digite sim para revelar: "
    ]
    monkeypatch.setattr("builtins.input", lambda question: "yes")
    assert reveal._ask("ex01") is True, "English 'yes' is always understood"
    monkeypatch.setattr("builtins.input", lambda question: "não")
    assert reveal._ask("ex01") is False
