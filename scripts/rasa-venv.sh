#!/usr/bin/env bash
# Make (once) a Python 3.10 virtualenv holding Rasa 3.6 for the optional Rasa NLU backend
# and its tests. Rasa 3.6 does not run on our Python 3.11, so it lives in its own venv,
# cached OUTSIDE the repo: re-running is a quick no-op while the cached venv works.
#
#   scripts/rasa-venv.sh            # prints the path of the `rasa` executable on stdout
#
# Environment:
#   SWITCHBOARD_CACHE  cache root (default: $HOME/.cache/switchboard)
#   RASA_VENV          venv location (default: $SWITCHBOARD_CACHE/rasa-3.6.21)
#   PYTHON310          a Python 3.10 interpreter (default: found on PATH or under pyenv)
#
# Only PyPI packages are downloaded, and only while installing.
set -euo pipefail

RASA_VERSION=3.6.21
CACHE_ROOT="${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}"
VENV="${RASA_VENV:-$CACHE_ROOT/rasa-$RASA_VERSION}"
MARKER="$VENV/.switchboard-rasa-installed"

# Rasa phones home (telemetry consent, update checks) unless told not to.
export RASA_TELEMETRY_ENABLED=false
export TF_CPP_MIN_LOG_LEVEL=2

log() { printf 'rasa-venv: %s\n' "$*" >&2; }

venv_works() {
    [[ -f "$MARKER" && -x "$VENV/bin/rasa" ]] && "$VENV/bin/rasa" --version >/dev/null 2>&1
}

find_python310() {
    local candidate
    for candidate in "${PYTHON310:-}" python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10 \
        "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 /root/.pyenv/versions/3.10.*/bin/python3.10; do
        [[ -n "$candidate" ]] || continue
        # A pyenv shim exists on PATH even when 3.10 is not the selected version: run it to be sure.
        if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; then
            command -v "$candidate" || printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

if venv_works; then
    printf '%s\n' "$VENV/bin/rasa"
    exit 0
fi

mkdir -p "$(dirname "$VENV")"
# Two callers at once (a developer and the test suite) must not install into the same venv.
exec 9>"$VENV.lock"
flock 9
if venv_works; then  # the other caller finished it while we waited
    printf '%s\n' "$VENV/bin/rasa"
    exit 0
fi

PY=$(find_python310) || { log "Python 3.10 not found (Rasa 3.6 needs Python 3.8-3.10); set PYTHON310"; exit 1; }
log "installing rasa==$RASA_VERSION into $VENV with $PY"
log "this is a one-off, large download (~2.7 GB with tensorflow): minutes with a local wheel mirror, 10+ from PyPI"
started=$(date +%s)

rm -f "$MARKER"
"$PY" -m venv --clear "$VENV"
# pip: the range this script was tested with (pip 26 resolves the same set). Rasa 3.6.21
# pins what matters to it itself (setuptools 70.3.x, which still ships the pkg_resources
# Rasa imports; pydantic 1.10; SQLAlchemy 1.4; tensorflow 2.12), so nothing else is pinned.
# pip talks on stdout, which is reserved for the path of `rasa`.
"$VENV/bin/python" -m pip install --quiet "pip>=23.3,<24.1" wheel >&2
"$VENV/bin/python" -m pip install --progress-bar off "rasa==$RASA_VERSION" >&2

if ! "$VENV/bin/rasa" --version >&2; then
    log "rasa installed but 'rasa --version' fails; see the output above"
    exit 1
fi
date -u +%Y-%m-%dT%H:%M:%SZ >"$MARKER"
log "rasa $RASA_VERSION ready in $(( $(date +%s) - started )) s"
printf '%s\n' "$VENV/bin/rasa"
