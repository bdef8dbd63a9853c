#!/usr/bin/env bash
# `make dist`: what the ansible role (ansible/roles/sesim_app) installs on a server.
#
#   dist/sesim-<version>-py3-none-any.whl   the project, built reproducibly: the same
#                                           commit gives the same bytes (same sha256)
#   dist/wheelhouse/*.whl                   every wheel of requirements-server.lock, for
#                                           CPython 3.11 on x86_64 Linux (Debian 12), so
#                                           the server installs with --no-index
#   dist/SHA256SUMS                         the sha256 of each file above
#
# Options: --wheel-only (no wheelhouse, no check), --no-check (skip installing the
# wheel into a throw-away virtualenv to run `sesim --help` and render a page),
# --out DIR (default dist). PYTHON: the Python with setuptools, wheel and babel
# (default .venv/bin/python, as `make install` made it).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON_DIST:-.venv/bin/python}
PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"  # absolute, still the venv's
OUT=dist
WHEELHOUSE=1
CHECK=1
while [ $# -gt 0 ]; do
  case "$1" in
    --wheel-only) WHEELHOUSE=0; CHECK=0 ;;
    --no-check) CHECK=0 ;;
    --out) OUT=$2; shift ;;
    *) echo "dist.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
BIN=$(dirname "$PY")

# One fixed time for every file in the wheel: the last commit's (a constant when
# this is no git checkout), so the archive does not depend on when it was built.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 1767225600)
fi
export SOURCE_DATE_EPOCH
# Nothing in the environment that changes what setuptools writes.
export PYTHONHASHSEED=0 LC_ALL=C.UTF-8 TZ=UTC
umask 022

# The .mo catalogues are built files (not in git): compile them from the .po files.
"$BIN/pybabel" compile -d securedrop_like/translations >/dev/null 2>&1 \
  || "$PY" -m babel.messages.frontend compile -d securedrop_like/translations >/dev/null

# Built from a copy holding exactly the files git tracks (as they are in the work tree)
# plus the compiled catalogues: no stray file, build/ or old egg-info of this checkout
# can change the wheel.
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd)
src=$(mktemp -d)
cleanup() { rm -rf "$src" "${tmp:-}"; }
trap cleanup EXIT
{ git ls-files -z --cached; find securedrop_like/translations -name '*.mo' -print0; } \
  | tar --null --files-from=- --create --file=- | tar --extract --file=- --directory="$src"
rm -f "$OUT"/sesim-*.whl
(cd "$src" && "$PY" -m pip wheel --quiet --disable-pip-version-check --no-deps \
  --no-build-isolation --wheel-dir "$OUT" .)
wheel=$(ls "$OUT"/sesim-*-py3-none-any.whl)
echo "Built $wheel"

# The wheel must carry every data file the apps read at run time.
"$PY" - "$wheel" <<'EOF'
import sys
import zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
needed = {
    "templates": "securedrop_like/templates/",
    "static files": "source_interface/static/",
    "data": "securedrop_like/data/",
    "migrations": "securedrop_like/migrations/",
    "az catalogue": "securedrop_like/translations/az/LC_MESSAGES/messages.mo",
    "ru catalogue": "securedrop_like/translations/ru/LC_MESSAGES/messages.mo",
    "en catalogue": "securedrop_like/translations/en/LC_MESSAGES/messages.mo",
}
missing = [what for what, prefix in needed.items() if not any(n.startswith(prefix) for n in names)]
if missing:
    sys.exit(f"dist.sh: the wheel lacks {', '.join(missing)}")
EOF

if [ "$WHEELHOUSE" = 1 ]; then
  # Binary wheels, for the servers' Python (Debian 12: CPython 3.11, glibc 2.36). A
  # package published as source only (stem) is built into a wheel here, without build
  # isolation (setuptools and wheel from requirements.lock) and at a fixed time,
  # so that it too is the same file every time.
  house="$OUT/wheelhouse.new"
  rm -rf "$house" "$OUT/sdist.tmp"
  mkdir -p "$house"
  grep '^[^#]' requirements-server.lock | while read -r pin; do
    if ! "$PY" -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 \
        --platform manylinux1_x86_64 --platform linux_x86_64 \
        --dest "$house" "$pin" 2>/dev/null; then
      echo "No wheel of $pin for the server: building one from its source"
      "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary=:all: \
        --dest "$OUT/sdist.tmp" "$pin"
      # A constant time (1980-01-01, zip's first): the same bytes whatever commit this is.
      SOURCE_DATE_EPOCH=315532800 "$PY" -m pip wheel --quiet --disable-pip-version-check \
        --no-deps --no-build-isolation --wheel-dir "$house" "$OUT"/sdist.tmp/*
      rm -rf "$OUT/sdist.tmp"
    fi
  done
  pinned=$(grep -c '^[^#]' requirements-server.lock)
  got=$(find "$house" -name '*.whl' | wc -l)
  if [ "$pinned" != "$got" ]; then
    echo "dist.sh: $pinned pins but $got wheels in $house" >&2
    exit 1
  fi
  rm -rf "$OUT/wheelhouse"
  mv "$house" "$OUT/wheelhouse"
  echo "$got wheels in $OUT/wheelhouse"
  cp requirements-server.lock "$OUT/requirements-server.lock"
fi

if [ "$CHECK" = 1 ]; then
  # Install exactly as the server does (no index) into a throw-away virtualenv, then
  # run the command and render the source interface's start page in each language.
  tmp=$(mktemp -d)
  python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/pip" install --quiet --disable-pip-version-check --no-index \
    --find-links "$OUT/wheelhouse" -r requirements-server.lock "$wheel"
  "$tmp/venv/bin/sesim" --help >/dev/null
  (cd "$tmp" && SESIM_HOME="$tmp/instance" "$tmp/venv/bin/sesim" init >/dev/null)
  (cd "$tmp" && "$tmp/venv/bin/python" - "$tmp/instance") <<'EOF'
import sys

import securedrop_like
from securedrop_like.instance import open_instance
from source_interface import create_app

assert "site-packages" in securedrop_like.__file__, securedrop_like.__file__
app = create_app(open_instance(sys.argv[1]))
client = app.test_client()
# Translated text, not the English message ids: many letters of the page's alphabet
# (the Legal Centre's name alone holds a few).
for lang, letters in (("ru", "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"), ("az", "əğıöüçş")):
    assert client.get(f"/lang/{lang}", headers={"Host": "localhost"}).status_code == 303
    page = client.get("/", headers={"Host": "localhost"})
    text = page.get_data(as_text=True)
    count = sum(text.lower().count(c) for c in letters)
    assert page.status_code == 200 and count > 100, (lang, page.status_code, count)
print("The wheel installs without an index; `sesim --help` runs; the start page renders.")
EOF
fi

(cd "$OUT" && sha256sum sesim-*.whl $([ -d wheelhouse ] && echo wheelhouse/*.whl) > SHA256SUMS)
sha256sum "$wheel"
