#!/usr/bin/env bash
# Evaluates Kubernetes objects with the Argo CD health check we ship (deploy/argocd/health.lua),
# the way Argo CD runs it, with a Lua interpreter from Debian; see hack/tools/argocd-health/run.lua.
# Usage: hack/argocd-health.sh [--check HEALTH.lua] [FILE...]   (JSON; no FILE or "-" = stdin)
# Prints "<namespace>/<name>\t<health>\t<message>" per object (a List is expanded into its items).
# LUA=/path/to/lua picks the interpreter; default lua5.4, else lua.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

lua=${LUA:-}
if [[ -z $lua ]]; then
  for candidate in lua5.4 lua; do
    if command -v "$candidate" >/dev/null 2>&1; then lua=$candidate; break; fi
  done
fi
[[ -n $lua ]] || die "no Lua interpreter (lua5.4 or lua); install it: apt-get install -y lua5.4 lua-dkjson"
command -v "$lua" >/dev/null 2>&1 || die "LUA=$lua is not an executable"
# The module is looked up by the chosen interpreter: Debian installs dkjson for every Lua version,
# cjson per version (liblua5.x-cjson), so a module present for one version may be absent for another.
"$lua" -e 'if not (pcall(require, "dkjson") or pcall(require, "cjson")) then os.exit(1) end' 2>/dev/null ||
  die "$lua has no JSON module (dkjson or cjson); install one: apt-get install -y lua-dkjson"

exec "$lua" "$ROOT/hack/tools/argocd-health/run.lua" --check "$ROOT/deploy/argocd/health.lua" "$@"
