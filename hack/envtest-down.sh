#!/usr/bin/env bash
# Stops exactly the processes hack/envtest-up.sh started (by recorded PID, never by name) and
# removes their state. Harmless when nothing runs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
STATE="$ENVTEST_DIR"

if [[ ! -d "$STATE" ]]; then
  log "no control plane state in $STATE; nothing to stop"
  exit 0
fi

stop_pid() { # name
  local file="$STATE/$1.pid" pid
  [[ -f "$file" ]] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$1 (pid $pid) ignored SIGTERM for 10s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $1 (pid $pid)"
  fi
  rm -f "$file"
}

# The API server first, so it does not log etcd connection errors while shutting down.
stop_pid kube-apiserver
stop_pid etcd
if [[ -f "$STATE/etcd-data-dir" ]]; then
  rm -rf "$(cat "$STATE/etcd-data-dir")"
fi
rm -rf "$STATE"
log "removed $STATE"
