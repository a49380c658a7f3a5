#!/usr/bin/env bash
# The project's two entry points, for a fresh machine with only Python 3 and apt:
#   ./run.sh start [doris-br start options]   install into .venv and run one FE and three BEs
#   ./run.sh test  [pytest options]           install what the tests need and run them
set -euo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  as_root apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

venv() {
  if ! python3 -c "import venv, ensurepip" 2>/dev/null; then apt_install python3-venv python3-pip; fi
  if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
  local want="$1"
  if [ ! -f .venv/.installed-"$want" ] || [ pyproject.toml -nt .venv/.installed-"$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e ".[$want]"
    touch .venv/.installed-"$want"
  fi
}

case "${1:-}" in
  start)
    shift
    venv test
    exec .venv/bin/doris-br start "$@"
    ;;
  test)
    shift
    need=()
    command -v mariadb >/dev/null || need+=(mariadb-client)
    # bench/wire.py measures against a MariaDB server of the same machine.
    [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
    [ -f /usr/share/java/mariadb-java-client.jar ] || need+=(libmariadb-java)
    command -v javac >/dev/null || need+=(default-jdk-headless)
    command -v curl >/dev/null || need+=(curl)
    # The console tests drive Debian's Chromium headless (through the DevTools protocol).
    command -v chromium >/dev/null || need+=(chromium chromium-driver)
    # tests/test_clients.py: mysqlclient compiles against libmysqlclient; Node's mysql2 and Debian's mycli.
    pkg-config --exists mysqlclient 2>/dev/null || need+=(default-libmysqlclient-dev pkg-config build-essential)
    command -v node >/dev/null || need+=(nodejs)
    command -v npm >/dev/null || need+=(npm)
    command -v mycli >/dev/null || need+=(mycli)
    if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi
    venv test
    if [ ! -d tests/node/node_modules ] || [ tests/node/package-lock.json -nt tests/node/node_modules ]; then
      (cd tests/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
    exec .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: ./run.sh start [options] | ./run.sh test [pytest options]" >&2
    exit 2
    ;;
esac
