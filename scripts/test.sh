#!/usr/bin/env bash
# Install what the tests need and run the whole suite (the README's test command; .ci/run runs it).
#   bash scripts/test.sh [pytest arguments]
# A virtual environment in .venv (Debian's Python refuses system-wide pip installs, PEP 668);
# Chromium and SpamAssassin from Debian's packages when we may install them (root with apt-get):
# without Chromium the browser tests are skipped and say so; without SpamAssassin its check is.
# PostgreSQL's server binaries (Debian's postgresql package) for the tests that run the store on
# both engines: tests/pg_server.py starts a throwaway server; without it those cases skip, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v spamassassin >/dev/null 2>&1 || missing+=(spamassassin)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing ${missing[*]} (Debian packages) for the browser, spam-score and PostgreSQL tests..."
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null
  fi
fi

# The linter first (pyflakes, import order, bugbear; rules in pyproject.toml): a second or less.
.venv/bin/ruff check --quiet .
exec .venv/bin/python -m pytest "$@"
