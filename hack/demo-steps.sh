# shellcheck shell=bash
# The steps `make demo` (hack/demo.sh) and `make demo-cluster` (hack/demo-cluster.sh) share,
# from granting the demo namespace to deleting its Groups. Sourced after lib.sh; the caller
# defines `kc` (kubectl against its cluster), `platform_state` (prints the emulator's state
# JSON) and NAMESPACE, and has the operator running.

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

# Grants the namespace, applies examples/, shows a refusal, waits for every Group to be Ready and
# shows the result from both sides.
demo_apply_groups() {
  step "granting namespace $NAMESPACE (cluster admin): label tenant=demo, GroupGrant demo-team"
  kc label namespace "$NAMESPACE" tenant=demo --overwrite >/dev/null
  kc apply -f examples/grants/ >&2
  # The operator writes the grant into its admission policy a moment later; a dry run shows when.
  local deadline=$((SECONDS + 60))
  until kc apply -n "$NAMESPACE" -f examples/ --dry-run=server >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "the GroupGrant did not reach admission within 60s"
    sleep 1
  done

  step "applying examples/*.yaml to namespace $NAMESPACE"
  kc apply -n "$NAMESPACE" -f examples/ >&2

  step "a Group that asks for more than the grant gives is refused (examples/refused/)"
  local refusal
  if refusal=$(kc apply -n "$NAMESPACE" -f examples/refused/ 2>&1); then
    die "examples/refused/ was admitted; the GroupGrant is not enforced"
  fi
  printf '    %s\n' "$refusal" >&2

  step "waiting for every Group to be Ready"
  deadline=$((SECONDS + 120))
  until kc wait -n "$NAMESPACE" --for=condition=Ready groups --all --timeout=2s >/dev/null 2>&1; do
    kc get groups -n "$NAMESPACE" --no-headers 2>/dev/null | sed 's/^/    /' >&2
    ((SECONDS < deadline)) || die "Groups not Ready after 120s (see kubectl describe groups -n $NAMESPACE)"
    sleep 2
  done

  step "kubectl get groups -A"
  kc get groups -A

  step "the platform's view (as the management API reports it)"
  platform_state | python3 "$ROOT/hack/print-platform.py"

  step "recent Events"
  kc get events -n "$NAMESPACE" --sort-by=.metadata.creationTimestamp 2>/dev/null | tail -n 15
}

# Deletes the Groups; the finalizer cleans up the platform.
demo_delete_groups() {
  step "deleting the Groups: the finalizer cleans up the platform (legacy-analysts is Orphan: kept)"
  kc delete groups --all -n "$NAMESPACE" --timeout=60s >&2
  platform_state | python3 "$ROOT/hack/print-platform.py"
}
