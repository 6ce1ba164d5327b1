"""The `labapp` command in a shell with LABAPP_LANG=pt_BR speaks Portuguese; English stays the default."""

from __future__ import annotations

import os
import subprocess
import sys


def labapp(*args, lang: str | None = None) -> subprocess.CompletedProcess:
    """Run `labapp ARGS` to its end, with LABAPP_LANG set to lang (None: unset)."""
    env = {name: value for name, value in os.environ.items() if name != "LABAPP_LANG"}
    if lang is not None:
        env["LABAPP_LANG"] = lang
    return subprocess.run([sys.executable, "-m", "labapp", *args], capture_output=True, text=True, timeout=60, env=env)


def test_help_in_portuguese():
    done = labapp("--help", lang="pt_BR")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("uso: labapp"), done.stdout
    assert "Flask + Celery Cluster Lab: um broker Redis embutido, uma API Flask e workers" in done.stdout
    assert "argumentos posicionais" in done.stdout and "opções:" in done.stdout
    assert "mede a vazão em função do número de workers" in done.stdout


def test_a_subcommand_help_in_portuguese():
    done = labapp("up", "--help", lang="pt-BR")
    assert "mostra esta mensagem de ajuda e sai" in done.stdout, done.stdout
    assert "número de processos worker (padrão: 2)" in done.stdout, done.stdout


def test_a_bad_argument_is_refused_in_portuguese():
    done = labapp("up", "--workers", "-1", lang="pt")
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last == "labapp up: erro: argumento --workers: é preciso um número inteiro a partir de 0; recebi -1", last


def test_an_error_through_fail_in_portuguese():
    done = labapp("bench", "--duration", "-5", lang="pt_BR")
    assert done.returncode == 2
    assert done.stderr.startswith("erro: --duration deve ir de 0 a "), done.stderr


def test_english_by_default_and_for_other_languages():
    for lang in (None, "en", "de_DE"):
        help_text = labapp("--help", lang=lang).stdout
        assert help_text.startswith("usage: labapp") and "positional arguments" in help_text, (lang, help_text)
        refused = labapp("up", "--workers", "-1", lang=lang).stderr.strip().splitlines()[-1]
        assert refused == "labapp up: error: argument --workers: a whole number from 0 up is needed, got -1", refused
