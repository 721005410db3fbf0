#!/usr/bin/env bash
# Install gitdata with its test dependencies, then lint and run the whole test suite.
# This is the README's test command; .ci/run calls it on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

python3 -m ruff check gitdata tests benchmarks examples
python3 -c "import sys; from importlinter.cli import lint_imports_command as m; sys.argv = ['lint-imports', '--no-cache']; sys.exit(m())" | tail -4

set +e
python3 -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
# pytest exits 5 when no tests were collected (e.g. a filtered run): not a failure.
if [ "$rc" -eq 5 ]; then rc=0; fi
exit "$rc"
