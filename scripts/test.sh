#!/usr/bin/env bash
# The project's test command: installs what the tests need, starts it on
# 127.0.0.1, checks formatting and lints, and runs every test.
#
#   scripts/test.sh            # everything
#   scripts/test.sh --test cli # extra arguments go to `cargo test`
#
# What it installs:
#   - PostgreSQL 15 and Redis server binaries (Debian packages postgresql-15
#     and redis-server, with apt-get, through sudo unless root), only when
#     missing, for the heartbeat tests against real primary/replica pairs.
#     The packages' own services are kept from starting during the install;
#     the tests start their servers themselves, on 127.0.0.1, in temporary
#     directories. DRCTL_PG_BIN and DRCTL_REDIS_SERVER point the tests at
#     the binaries (set them beforehand to use binaries from elsewhere).
#   - Chromium (Debian package chromium), only when missing, for the status
#     page test that loads the page from a running cluster in headless mode.
#     DRCTL_CHROMIUM points the test at the binary (set it beforehand to use
#     one from elsewhere).
#   - moto server (PyPI moto[server] 5.2.5) in a Python venv in .test-env/
#     (ignored by git, reused between runs), for the contract and end-to-end
#     tests of the AWS adapters through the real SDK.
#   - schemathesis (PyPI schemathesis 4.32.5) in the same venv, for the test
#     that runs `st run docs/openapi.yaml` with every check against a local
#     cluster (tests/api/schemathesis.rs); DRCTL_SCHEMATHESIS points it at `st`.
# Every server it starts listens on 127.0.0.1 only and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

env_dir="${DRCTL_TEST_ENV:-.test-env}"
moto_version="5.2.5"
schemathesis_version="4.32.5"
mkdir -p "$env_dir"

step() { printf '\n==> %s\n' "$*"; }

step "PostgreSQL 15, Redis servers and Chromium"
pg_bin="${DRCTL_PG_BIN:-/usr/lib/postgresql/15/bin}"
redis_server="${DRCTL_REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}"
packages=()
if [ ! -x "$pg_bin/postgres" ]; then
    if [ -n "${DRCTL_PG_BIN:-}" ]; then
        echo "DRCTL_PG_BIN=${DRCTL_PG_BIN} has no postgres binary" >&2
        exit 1
    fi
    packages+=(postgresql-15)
fi
if [ ! -x "$redis_server" ]; then
    if [ -n "${DRCTL_REDIS_SERVER:-}" ]; then
        echo "DRCTL_REDIS_SERVER=${DRCTL_REDIS_SERVER} is not an executable" >&2
        exit 1
    fi
    packages+=(redis-server)
fi
chromium="${DRCTL_CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}"
if [ ! -x "$chromium" ]; then
    if [ -n "${DRCTL_CHROMIUM:-}" ]; then
        echo "DRCTL_CHROMIUM=${DRCTL_CHROMIUM} is not an executable" >&2
        exit 1
    fi
    packages+=(chromium)
fi
if [ "${#packages[@]}" -gt 0 ]; then
    echo "installing ${packages[*]}"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    # A policy-rc.d that answers 101 ("action forbidden") keeps the packages
    # from starting their system services; one already there is left as is.
    policy_rc=/usr/sbin/policy-rc.d
    own_policy=""
    if [ ! -e "$policy_rc" ]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy_rc" >/dev/null
        "${sudo[@]}" chmod 755 "$policy_rc"
        own_policy=1
        trap '"${sudo[@]}" rm -f "$policy_rc"' EXIT
    fi
    apt_install() {
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends "${packages[@]}"
    }
    status=0
    # The package lists are refreshed only when installing without them fails.
    apt_install || { "${sudo[@]}" apt-get update -q && apt_install; } || status=$?
    if [ -n "$own_policy" ]; then
        "${sudo[@]}" rm -f "$policy_rc"
        trap - EXIT
    fi
    [ "$status" -eq 0 ] || exit "$status"
    redis_server="${DRCTL_REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}"
    chromium="${DRCTL_CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}"
fi
export DRCTL_PG_BIN="$pg_bin"
export DRCTL_REDIS_SERVER="$redis_server"
export DRCTL_CHROMIUM="$chromium"
"$DRCTL_PG_BIN/postgres" --version
"$DRCTL_REDIS_SERVER" --version
"$DRCTL_CHROMIUM" --version

step "moto ${moto_version} in ${env_dir}/venv"
if ! "$env_dir/venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '${moto_version}')" 2>/dev/null; then
    python3 -m venv "$env_dir/venv"
    "$env_dir/venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==${moto_version}"
fi

step "schemathesis ${schemathesis_version} in ${env_dir}/venv"
if ! "$env_dir/venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '${schemathesis_version}')" 2>/dev/null; then
    "$env_dir/venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==${schemathesis_version}"
fi
case "$env_dir" in
    /*) export DRCTL_SCHEMATHESIS="$env_dir/venv/bin/st" ;;
    *) export DRCTL_SCHEMATHESIS="$PWD/$env_dir/venv/bin/st" ;;
esac
"$DRCTL_SCHEMATHESIS" --version

step "starting moto on 127.0.0.1"
port="$("$env_dir/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$env_dir/venv/bin/python" tests/moto/server.py "$port" >"$env_dir/moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
    if "$env_dir/venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${port}/moto-api/', timeout=1)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$moto_pid" 2>/dev/null; then
        echo "moto exited early; its log:" >&2
        cat "$env_dir/moto.log" >&2
        exit 1
    fi
    sleep 0.5
done
export DRCTL_MOTO_ENDPOINT="http://127.0.0.1:${port}"
echo "moto listening at ${DRCTL_MOTO_ENDPOINT}"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "cargo test"
cargo test --no-fail-fast "$@"
