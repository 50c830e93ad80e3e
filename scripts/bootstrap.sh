# Sourced by scripts/gskill and scripts/test: make this machine ready, idempotently.
#  1. a Docker engine that answers (as root: install docker.io and start dockerd if needed);
#  2. the project venv at .venv with `pip install -e .[dev]` (redone when pyproject.toml changes);
#  3. a base image: the configured one, else the offline one built with debootstrap (no registry).
# Without root and without a reachable engine it carries on: gskill then uses the local sandbox.

GSKILL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '[bootstrap] %s\n' "$*" >&2; }
# apt is chatty on stderr (debconf, needrestart); keep its output in a log, show it on failure.
apt_install() {
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >/tmp/gskill-apt.log 2>&1 \
    || { tail -n 20 /tmp/gskill-apt.log >&2; die "apt-get install $* failed (log: /tmp/gskill-apt.log)"; }
}
die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 1; }

engine_answers() { command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; }

ensure_docker() {
  engine_answers && return 0
  if [ "$(id -u)" != 0 ]; then
    log "no Docker engine answers and not root: continuing without Docker (local sandbox only)"
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing docker.io"
    apt_install docker.io
  fi
  log "starting dockerd (log: /var/log/gskill-dockerd.log)"
  nohup dockerd >/var/log/gskill-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    [ -S /var/run/docker.sock ] && engine_answers && { log "Docker engine ready"; return 0; }
    sleep 1
  done
  die "dockerd did not answer within 60 s; see /var/log/gskill-dockerd.log: $(tail -n 1 /var/log/gskill-dockerd.log 2>/dev/null)"
}

ensure_venv() {
  local venv="$GSKILL_ROOT/.venv" stamp
  stamp="$(sha256sum "$GSKILL_ROOT/pyproject.toml" | cut -c1-16)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.gskill-installed" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  log "creating $venv and installing gskill[dev] (first run: a few minutes)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || die "python3 -m venv failed (need Python >= 3.11 with venv)"
  "$venv/bin/python" -m pip install -q -U pip >/dev/null 2>&1 || true
  if ! "$venv/bin/python" -m pip install -q -e "$GSKILL_ROOT[dev]" >"$venv/pip-install.log" 2>&1; then
    tail -n 20 "$venv/pip-install.log" >&2
    die "pip install -e .[dev] failed (full log: $venv/pip-install.log)"
  fi
  echo "$stamp" > "$venv/.gskill-installed"
}

ensure_base_image() {
  engine_answers || return 0
  local wanted="${GSKILL_BASE_IMAGE:-python:3.11-slim-bookworm}" offline="gskill-base:bookworm"
  docker image inspect "$wanted" >/dev/null 2>&1 && return 0
  timeout 120 docker pull -q "$wanted" >/dev/null 2>&1 && return 0
  docker image inspect "$offline" >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "base image $wanted cannot be pulled and building $offline needs root"
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt_install debootstrap
  fi
  log "no registry: building $offline with debootstrap (about 90 s)"
  "$GSKILL_ROOT/.venv/bin/gskill" env base --tag "$offline" || die "building the base image failed"
}

ensure_agents() {
  # Codex CLI and Claude Code binaries from the npm registry into the tool cache (pinned, checksummed).
  # Not fatal: without npm or its registry, everything but those two agents still works.
  command -v npm >/dev/null 2>&1 || { log "npm not found: the codex and claude agents stay unavailable"; return 0; }
  "$GSKILL_ROOT/.venv/bin/gskill" agents install >/dev/null 2>&1 || log "could not fetch the agent binaries (npm registry unreachable?)"
}

ensure_harbor_loader() {
  # Harbor (PyPI `harbor`) requires Python >= 3.12 and this machine has 3.11, so it cannot be a pip
  # dependency: its wheel is unpacked beside the venv for tests/test_interop.py, which loads exported
  # task folders with Harbor's own loader (harbor.models.task.task.Task; 3.11 lacks only typing.override).
  local dir="$GSKILL_ROOT/.venv/harbor-0.26.0" py="$GSKILL_ROOT/.venv/bin/python"
  [ -f "$dir/harbor/models/task/task.py" ] && return 0
  log "unpacking harbor 0.26.0's task loader (test suite)"
  rm -rf "$dir" "$dir.wheel" && mkdir -p "$dir.wheel"
  "$py" -m pip download -q harbor==0.26.0 --no-deps --python-version 3.12 --only-binary=:all: -d "$dir.wheel" \
    && "$py" -m zipfile -e "$dir.wheel"/harbor-0.26.0-py3-none-any.whl "$dir" \
    && "$py" -m pip install -q --target "$dir" pathspec==1.1.1 >/dev/null \
    || { rm -rf "$dir"; log "harbor's loader could not be fetched: its test will fail under CI=true"; }
  rm -rf "$dir.wheel"
}

ensure_test_tools() {
  ensure_harbor_loader
  # Only the test suite needs them: chromium renders report.html in a real headless browser; ip gives
  # the Ray tests' second Docker engine a bridge of its own.
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  [ "${#missing[@]}" = 0 ] && return 0
  [ "$(id -u)" = 0 ] || { log "${missing[*]} missing and not root: the tests that need them will skip"; return 0; }
  log "installing ${missing[*]} (test suite)"
  apt_install "${missing[@]}"
}

ensure_docker
ensure_venv
ensure_base_image
ensure_agents
export PATH="$GSKILL_ROOT/.venv/bin:$PATH"
