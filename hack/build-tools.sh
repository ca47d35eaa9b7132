#!/usr/bin/env bash
# Builds kube-apiserver, etcd, helm (and on request promtool, our helpers kstatus, argocd-health and pki
# and the single-node cluster's components) from Go modules, once, and caches them outside the
# repo (keyed by version). The machines cannot download release binaries; the Go module proxy
# works.
# Usage: hack/build-tools.sh [kube-apiserver|etcd|helm|promtool|kstatus|argocd-health|pki ...]
#   (default: kube-apiserver, etcd and helm; our helpers only when asked for)
#        hack/build-tools.sh kubelet|kube-controller-manager|kube-scheduler|kube-proxy|cluster
#        (the single-node cluster's components; `cluster` = all it needs)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need go "install Go 1.26 or newer"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

mkdir -p "$TOOLS_BIN"

# build_once NAME VERSION FUNCTION: skips the build when the versioned binary is cached.
build_once() {
  local name=$1 version=$2 fn=$3
  local out="$TOOLS_BIN/$name-$version"
  if [[ -x "$out" ]]; then
    log "$name $version: cached at $out (reusing, no build)"
  else
    local work
    work=$(mktemp -d "${TMPDIR:-/tmp}/igz-build-$name.XXXXXX")
    log "$name $version: building from Go modules in $work (first run only; this can take a while)"
    local start=$SECONDS
    if ! ( cd "$work" && "$fn" "$version" "$out.tmp" ) >"$work/build.log" 2>&1; then
      tail -n 40 "$work/build.log" >&2
      die "$name $version build failed; full log: $work/build.log"
    fi
    mv "$out.tmp" "$out"
    rm -rf "$work"
    log "$name $version: built in $((SECONDS - start))s -> $out"
  fi
  ln -sfn "$name-$version" "$TOOLS_BIN/$name"
}

# kube-apiserver: built like the node components below, from the shared wrapper module; one
# package at a time (-p 1), as its link needs the most memory.
build_kube_apiserver() { GO_BUILD_P=1 build_kube_component kube-apiserver "$@"; }

build_etcd() {
  local version=$1 out=$2
  go mod init igz-build/etcd
  go mod edit -require "go.etcd.io/etcd/server/v3@$version"
  printf '//go:build tools\npackage tools\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$out" go.etcd.io/etcd/server/v3
}

build_helm() {
  local version=$1 out=$2
  GOBIN="$PWD/bin" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$version" \
    "helm.sh/helm/v3/cmd/helm@$version"
  mv bin/helm "$out"
}

build_promtool() {
  local version=$1 out=$2
  GOBIN="$PWD/bin" go install -trimpath -ldflags "-s -w" \
    "github.com/prometheus/prometheus/cmd/promtool@$version"
  mv bin/promtool "$out"
}

# Our own small Go programs, one module in hack/tools: kstatus around sigs.k8s.io/cli-utils'
# kstatus, argocd-health around gopher-lua, pki on the standard library alone. A program's cache
# key is its pinned library version (for pki, the Go version) plus a digest of its source (its
# package, the shared packages, go.mod and go.sum), so an edit builds a new binary instead of
# reusing a stale one.
TOOLS_SRC="$ROOT/hack/tools"

tool_key() { # program pinned-version
  local digest
  digest=$(cd "$TOOLS_SRC" && cat go.mod go.sum "$1"/*.go internal/*/*.go | sha256sum)
  printf '%s-%s' "$2" "${digest:0:12}"
}

# build_tool PROGRAM OUT [MODULE PINNED-VERSION]
build_tool() {
  local program=$1 out=$2 module=${3:-} pin=${4:-}
  cp -r "$TOOLS_SRC"/go.mod "$TOOLS_SRC"/go.sum "$TOOLS_SRC"/internal "$TOOLS_SRC/$program" .
  # The pin in lib.sh decides; go.mod and go.sum in the repository carry the same version, so the
  # usual build needs no tidy (and checks the committed go.sum). A different pin (set by hand)
  # is resolved here, in the scratch copy only.
  if [[ -n $module ]]; then
    local current
    current=$(go list -m -f '{{.Version}}' "$module")
    if [[ $current != "$pin" ]]; then
      echo "go.mod has $module $current; building with the pinned $pin"
      go mod edit -require "$module@$pin"
      go mod tidy
    fi
  fi
  go build -trimpath -ldflags "-s -w" -o "$out" "./$program"
}
build_kstatus() { build_tool kstatus "$2" sigs.k8s.io/cli-utils "$CLI_UTILS_VERSION"; }
build_argocd_health() { build_tool argocd-health "$2" github.com/yuin/gopher-lua "$GOPHER_LUA_VERSION"; }
build_pki() { build_tool pki "$2"; }

# Tests may ask for one from several processes at once: one builds, the others wait and reuse it.
build_once_locked() { # name version function
  need flock "install util-linux"
  (
    flock 9
    build_once "$@"
  ) 9>"$TOOLS_BIN/.$1.lock"
}

# kube-apiserver and the node components (kubelet, kube-controller-manager, kube-scheduler,
# kube-proxy) come from one k8s.io/kubernetes release, built the same way: one wrapper module
# (staging modules pinned to their release), prepared once per version and kept in
# $IGZ_CACHE/src so the builds share one `go mod tidy` and Go's build cache.
kube_wrapper_module() { # version -> prints the module directory
  local version=$1 staging=${1/v1./v0.}
  # Named for what it holds: every command below (an older module without kube-apiserver lacks
  # part of its go.sum).
  local dir="$IGZ_CACHE/src/kubernetes-$version-all"
  if [[ ! -f "$dir/go.sum" ]]; then
    local tmp
    tmp=$(mktemp -d "$IGZ_CACHE/src/.kubernetes-$version.XXXXXX")
    (
      cd "$tmp"
      go mod init igz-build/kubernetes
      go mod download -json "k8s.io/kubernetes@$version" >/dev/null
      local gomod replaces m
      gomod="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$version.mod"
      # k8s.io/kubernetes replaces its staging modules with local paths; pin each to its release.
      replaces=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod")
      [[ -n "$replaces" ]] || { echo "no staging replaces found in $gomod"; exit 1; }
      for m in $replaces; do go mod edit -replace "$m=$m@$staging"; done
      go mod edit -require "k8s.io/kubernetes@$version"
      printf '//go:build tools\npackage tools\nimport (\n' > tools.go
      for m in kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy; do
        printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$m" >> tools.go
      done
      printf ')\n' >> tools.go
      go mod tidy
    ) >&2 || { rm -rf "$tmp"; return 1; }
    rm -rf "$dir" && mv "$tmp" "$dir"
  fi
  echo "$dir"
}

# build_kube_component CMD VERSION OUT: k8s.io/kubernetes/cmd/CMD with the release's version
# stamped in (kubelet reports it to the API server; kubectl and helm read it).
build_kube_component() {
  local cmd=$1 version=$2 out=$3 dir
  mkdir -p "$IGZ_CACHE/src"
  dir=$(kube_wrapper_module "$version")
  # The version stamp: /version must report the release (helm's kubeVersion checks read it).
  local minor=${version#v1.}; minor=${minor%%.*}
  local ld="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  # Linking these 70-90 MB binaries takes a few GB; on a small machine GO_BUILD_P=1 serialises
  # the build (default: Go's own, one job per core).
  (cd "$dir" && go build ${GO_BUILD_P:+-p "$GO_BUILD_P"} -trimpath -ldflags "-s -w$ld" \
    -o "$out" "k8s.io/kubernetes/cmd/$cmd")
}
build_kubelet() { build_kube_component kubelet "$@"; }
build_kube_controller_manager() { build_kube_component kube-controller-manager "$@"; }
build_kube_scheduler() { build_kube_component kube-scheduler "$@"; }
build_kube_proxy() { build_kube_component kube-proxy "$@"; }

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(etcd helm kube-apiserver)
for t in "${targets[@]}"; do
  case $t in
    kube-apiserver) build_once kube-apiserver "$KUBE_VERSION" build_kube_apiserver ;;
    etcd) build_once etcd "$ETCD_VERSION" build_etcd ;;
    helm) build_once helm "$HELM_VERSION" build_helm ;;
    promtool) build_once promtool "$PROMETHEUS_MODULE_VERSION" build_promtool ;;
    kstatus) build_once_locked kstatus "$(tool_key kstatus "$CLI_UTILS_VERSION")" build_kstatus ;;
    argocd-health)
      build_once_locked argocd-health "$(tool_key argocd-health "$GOPHER_LUA_VERSION")" build_argocd_health ;;
    pki) build_once_locked pki "$(tool_key pki "$(go env GOVERSION)")" build_pki ;;
    kubelet) build_once kubelet "$KUBE_VERSION" build_kubelet ;;
    kube-controller-manager) build_once kube-controller-manager "$KUBE_VERSION" build_kube_controller_manager ;;
    kube-scheduler) build_once kube-scheduler "$KUBE_VERSION" build_kube_scheduler ;;
    kube-proxy) build_once kube-proxy "$KUBE_VERSION" build_kube_proxy ;;
    # Everything hack/cluster-up.sh runs (the single-node cluster).
    cluster)
      for c in etcd kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy; do
        "$0" "$c"
      done ;;
    *) die "unknown tool '$t' (expected kube-apiserver, etcd, helm, promtool, kstatus, argocd-health, pki, kubelet, kube-controller-manager, kube-scheduler, kube-proxy or cluster)" ;;
  esac
done
