#!/usr/bin/env bash
# The project's test command: installs what the tests need, starts it on
# 127.0.0.1, checks formatting and lints, and runs every test.
#
#   scripts/test.sh            # everything
#   scripts/test.sh --test cli # extra arguments go to `cargo test`
#
# What it installs, into .test-env/ (ignored by git, reused between runs):
#   - moto server (PyPI moto[server] 5.2.5) in a Python venv, for the contract
#     and end-to-end tests of the AWS adapters through the real SDK.
# Every server it starts listens on 127.0.0.1 only and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

env_dir="${DRCTL_TEST_ENV:-.test-env}"
moto_version="5.2.5"
mkdir -p "$env_dir"

step() { printf '\n==> %s\n' "$*"; }

step "moto ${moto_version} in ${env_dir}/venv"
if ! "$env_dir/venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '${moto_version}')" 2>/dev/null; then
    python3 -m venv "$env_dir/venv"
    "$env_dir/venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==${moto_version}"
fi

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
