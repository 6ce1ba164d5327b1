"""`labapp env`'s lines: every shell reads back the exact values, the app's URLs on database 1."""

from labapp.cli.tools import env_lines

URL = "redis://default:p'w%40x@127.0.0.1:6390/0"


def test_sh_exports_database_1_and_the_decoded_password():
    lines = env_lines(URL, "sh")
    assert lines[0] == "export CELERY_BROKER_URL='redis://default:p'\"'\"'w%40x@127.0.0.1:6390/1'"
    assert lines[1].startswith("export CELERY_RESULT_BACKEND=") and lines[1].endswith("/1'")
    assert lines[2] == "export REDISCLI_AUTH='p'\"'\"'w@x'"
    assert lines[3].startswith("# your app's queue: redis-cli -p 6390 -n 1 LLEN celery")


def test_fish_and_powershell_quote_a_quote_their_own_way():
    assert env_lines(URL, "fish")[2] == "set -gx REDISCLI_AUTH 'p\\'w@x'"
    assert env_lines(URL, "powershell")[2] == "$env:REDISCLI_AUTH = 'p''w@x'"


def test_a_broker_on_another_host_gets_h_in_the_redis_cli_line():
    assert "redis-cli -h 10.0.0.5 -p 6390 -n 1" in env_lines("redis://default:pw@10.0.0.5:6390/0", "sh")[3]


def test_each_shell_gets_a_redis_cli_that_knows_the_port_and_the_database():
    assert env_lines(URL, "bash")[4] == 'redis-cli() { command redis-cli -p 6390 -n 1 "$@"; }'
    assert len(env_lines(URL, "sh")) == 4  # POSIX sh (dash) refuses a hyphen in a function's name
    assert env_lines(URL, "fish")[4] == "function redis-cli; command redis-cli -p 6390 -n 1 $argv; end"
    assert env_lines(URL, "powershell")[4].startswith("function redis-cli { & (Get-Command redis-cli")


def test_the_default_shell_is_the_users_when_known():
    from labapp.cli.tools import default_shell

    assert default_shell({"SHELL": "/usr/bin/zsh"}) == "zsh"
    assert default_shell({"SHELL": "/bin/tcsh"}) == "sh"
    assert default_shell({}) == "sh"
