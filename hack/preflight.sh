#!/usr/bin/env bash
# Preflight: checks every prerequisite of a make target before anything is built, and names all
# that are missing at once, each with the command that installs it (a missing tool otherwise
# shows up minutes into a build, one at a time). Only looks: runs no build and no network.
# Usage: hack/preflight.sh TARGET   (demo, test, image, cluster-up, demo-cluster, test-cluster)
# Exit 0 when everything is there; 1 naming what is missing, or on an unknown target.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

target=${1:-}
case $target in
  demo | test | image | cluster-up | demo-cluster | test-cluster) ;;
  *) die "unknown target '$target' (expected demo, test, image, cluster-up, demo-cluster or test-cluster)" ;;
esac

GO_MIN=1.26
PYTHON_MIN=3.11
go_arch() { case $(uname -m) in aarch64 | arm64) echo arm64 ;; *) echo amd64 ;; esac; }

# --- checks: each succeeds when the prerequisite is there ----------------------------------------
have() { command -v "$1" >/dev/null 2>&1; }
go_ok() { # Go at least $GO_MIN
  have go || return 1
  local v
  v=$(go env GOVERSION 2>/dev/null) || return 1
  v=${v#go}
  [[ $(printf '%s\n%s\n' "$GO_MIN" "$v" | sort -V | head -n1) == "$GO_MIN" ]]
}
python_ok() { # Python at least $PYTHON_MIN
  have python3 && python3 -c "import sys; sys.exit(sys.version_info < (${PYTHON_MIN/./, }))" 2>/dev/null
}
venv_ok() { python_ok && python3 -c 'import ensurepip, venv' 2>/dev/null; }
cargo_ok() { have cargo && have rustup; }
# Without cargo these count as there: rustup's default install, the row above, brings them.
rustfmt_ok() { ! cargo_ok || cargo fmt --version >/dev/null 2>&1; }
clippy_ok() { ! cargo_ok || cargo clippy --version >/dev/null 2>&1; }
musl_target_ok() { ! cargo_ok || rustup target list --installed 2>/dev/null | grep -qx "$IMAGE_RUST_TARGET"; }
root_ok() { [[ $(id -u) == 0 ]]; }
cni_ok() { [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]]; }
ca_bundle_ok() { [[ -f /etc/ssl/certs/ca-certificates.crt ]]; }
cc_ok() { have musl-gcc || have gcc; }
util_linux_ok() { have flock && have setsid; }
containerd_ok() { have containerd && have ctr && have containerd-shim-runc-v2; }

# --- the table ---------------------------------------------------------------------------------
# req "TARGETS" NAME CHECK INSTALL: NAME is needed by the make targets TARGETS; CHECK (a command)
# says whether it is there; INSTALL is the command that installs it.
missing=()
debian=() # the Debian packages among the install commands, to offer them as one command
req() {
  local targets=" $1 " name=$2 check=$3 install=$4 p
  [[ $targets == *" $target "* ]] || return 0
  $check && return 0
  missing+=("$(printf '  %-38s %s' "$name" "$install")")
  if [[ $install == "$apt "* ]]; then
    local packages
    read -ra packages <<<"${install#"$apt "}"
    for p in "${packages[@]}"; do [[ $p == "#"* ]] && break; debian+=("$p"); done
  fi
}

rustup_install="curl --proto '=https' -sSf https://sh.rustup.rs | sh -s -- -y  # then open a new shell"
go_install="curl -fsSL https://go.dev/dl/go$GO_MIN.0.linux-$(go_arch).tar.gz | tar -C /usr/local -xz && export PATH=\$PATH:/usr/local/go/bin"
apt="apt-get install -y"
all="demo test image cluster-up demo-cluster test-cluster"
builds_rust="demo test image demo-cluster test-cluster"
cluster="cluster-up demo-cluster test-cluster"
image="image demo-cluster test-cluster"

#   targets                      name                        check           install
req "$builds_rust"               "cargo (Rust, via rustup)"  cargo_ok        "$rustup_install"
req "test"                       "rustfmt"                   rustfmt_ok      "rustup component add rustfmt"
req "test"                       "clippy"                    clippy_ok       "rustup component add clippy"
req "demo test $cluster"         "go $GO_MIN+"               go_ok           "$go_install"
req "demo test $cluster"         "kubectl"                   "have kubectl"  "$apt kubectl  # from the Kubernetes apt repository, https://pkgs.k8s.io"
req "$all"                       "python3 $PYTHON_MIN+"      python_ok       "$apt python3"
req "test"                       "python3 venv and pip"      venv_ok         "$apt python3-venv"
req "demo test $cluster"         "flock, setsid"             util_linux_ok   "$apt util-linux"
req "image $cluster"             "podman"                    "have podman"   "$apt podman runc"
req "$image"                     "musl-gcc"                  "have musl-gcc" "$apt musl-tools"
req "$image"                     "Rust target $IMAGE_RUST_TARGET" musl_target_ok "rustup target add $IMAGE_RUST_TARGET"
req "$image"                     "CA bundle"                 ca_bundle_ok    "$apt ca-certificates"
req "$cluster"                   "root"                      root_ok         "sudo make $target  # the cluster needs network namespaces, containerd, kubelet"
req "$cluster"                   "openssl"                   "have openssl"  "$apt openssl"
req "$cluster"                   "curl"                      "have curl"     "$apt curl"
req "$cluster"                   "nsenter"                   "have nsenter"  "$apt util-linux"
req "$cluster"                   "ip"                        "have ip"       "$apt iproute2"
req "$cluster"                   "containerd"                containerd_ok   "$apt containerd"
req "$cluster"                   "runc"                      "have runc"     "$apt runc"
req "$cluster"                   "iptables"                  "have iptables" "$apt iptables"
req "$cluster"                   "conntrack"                 "have conntrack" "$apt conntrack"
req "$cluster"                   "CNI plugins"               cni_ok          "$apt containernetworking-plugins"
req "$cluster"                   "a C compiler (pause image)" cc_ok          "$apt musl-tools  # or gcc"

if ((${#missing[@]})); then
  # One install line may cover several rows; each row still names what it is for.
  printf '[preflight] make %s: %d missing prerequisite(s); nothing was built. Install them:\n' \
    "$target" "${#missing[@]}" >&2
  printf '%s\n' "${missing[@]}" >&2
  if ((${#debian[@]} > 1)); then
    printf '  (the Debian packages at once: %s %s)\n' "$apt" "$(printf '%s\n' "${debian[@]}" | sort -u | paste -sd' ')" >&2
  fi
  exit 1
fi
