#!/usr/bin/env bash
# Self-check of the two GitOps status evaluators on hand-written Group objects: the kstatus helper
# (the library Flux and kpt use) and our Argo CD health check (deploy/argocd/health.lua) run by
# the argocd-health helper (gopher-lua in Argo CD's sandbox); both built from Go modules by
# hack/build-tools.sh. Each sample in gitops-samples/ stands for one row of the status contract;
# expected.tsv says what each tool must answer. Also checks that stdin and file input agree, that
# bad input fails, and that the documentation shows the health check as the file has it.
# Exit 1 on any mismatch. Cheap once the helpers are cached (a first build takes a minute or two).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

samples=hack/tools/gitops-samples
expected=$samples/expected.tsv
hack/build-tools.sh kstatus argocd-health
KSTATUS=$TOOLS_BIN/kstatus
argocd() { "$TOOLS_BIN/argocd-health" --check deploy/argocd/health.lua "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/igz-gitops-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0
bad() { log "FAIL: $*"; failed=1; }

files=("$samples"/*.json)
"$KSTATUS" "${files[@]}" >"$work/kstatus.tsv"
argocd "${files[@]}" >"$work/argocd.tsv"

# One row per object: object, kstatus, Argo CD health, kstatus message, Argo CD message.
awk -F'\t' -v OFS='\t' '
  NR == FNR { id[FNR] = $1; st[FNR] = $2; msg[FNR] = $3; n = FNR; next }
  {
    if ($1 != id[FNR]) { print "object order differs: " id[FNR] " vs " $1 > "/dev/stderr"; exit 1 }
    print $1, st[FNR], $2, msg[FNR], $3
  }
  END { if (FNR != n) { print "the tools printed different numbers of objects" > "/dev/stderr"; exit 1 } }
' "$work/kstatus.tsv" "$work/argocd.tsv" >"$work/actual.tsv" || bad "the two tools disagree on the objects"

if ! diff -u --label expected.tsv --label actual <(grep -v '^#' "$expected") "$work/actual.tsv"; then
  bad "results differ from $expected (lines with - are expected, + are what the tools said)"
fi

# The same objects on stdin, concatenated (newline-delimited), give the same answers.
cat "${files[@]}" | "$KSTATUS" | cmp -s - "$work/kstatus.tsv" || bad "kstatus: stdin and file input differ"
cat "${files[@]}" | argocd | cmp -s - "$work/argocd.tsv" || bad "argocd-health: stdin and file input differ"

# Bad input fails loudly (and prints nothing on stdout); an empty List is fine and prints nothing.
for input in '' '[{"metadata": {"name": "x"}}]' '{"spec": {}}' '{"metadata": {"name": "x"}} {'; do
  for tool in "$KSTATUS" argocd; do
    if out=$(printf '%s' "$input" | "$tool" 2>/dev/null) || [[ -n $out ]]; then
      bad "$(basename "$tool") accepted bad input: '$input'"
    fi
  done
done
for tool in "$KSTATUS" argocd; do
  out=$(printf '{"kind": "List", "items": []}' | "$tool") || bad "$(basename "$tool") refused an empty List"
  [[ -z $out ]] || bad "$(basename "$tool") printed something for an empty List"
done

# The sandbox is Argo CD's: what a check configured in argocd-cm cannot use fails here too.
sandbox() { # LUA: runs it as the health check of one object; prints the line or fails
  printf '%s\n' "$1" >"$work/check.lua"
  printf '{"metadata": {"name": "x"}}' | "$TOOLS_BIN/argocd-health" --check "$work/check.lua" 2>/dev/null
}
sandbox 'return {status = "Healthy", message = ("x"):upper()}' >/dev/null &&
  bad "argocd-health: string methods work (Argo CD opens no string library)"
[[ $(sandbox 'return {status = "Healthy", message = type(os) .. type(string) .. type(math) .. type(io)}') == \
  $'x\tHealthy\tnilnilnilnil' ]] || bad "argocd-health: the sandbox has libraries Argo CD's has not"
[[ $(sandbox 'local o = require("os"); return {status = "Healthy", message = type(o.time) .. type(o.exit)}') == \
  $'x\tHealthy\tfunctionnil' ]] || bad "argocd-health: require(\"os\") is not Argo CD's reduced os"
sandbox 'while true do end' >/dev/null && bad "argocd-health: an endless check was not stopped"
[[ $(sandbox 'return {status = "Fine"}') == $'x\tUnknown\tLua returned an invalid health status' ]] ||
  bad "argocd-health: an invalid status is not Unknown"

# The documentation shows the health check inside an argocd-cm example ($shown_in, and any other
# page that shows it): each copy must be the file.
shown_in=docs/gitops.md
embedded_check() { # FILE: the block under the argocd-cm key, indentation removed
  awk -v key='resource.customizations.health.igz-operator.io_Group: |' '
    !on && index($0, key) { match($0, /^ */); ind = RLENGTH + 2; on = 1; next }
    on && $0 != "" && substr($0, 1, ind) !~ /^ *$/ { exit }
    on { line[++n] = substr($0, ind + 1); if ($0 != "") last = n }
    END { for (i = 1; i <= last; i++) print line[i] }
  ' "$1"
}
key='resource.customizations.health.igz-operator.io_Group: |'
grep -qF "$key" "$shown_in" || bad "$shown_in no longer shows the health check in its argocd-cm example"
for doc in README.md docs/*.md; do
  [[ -f $doc ]] || continue
  grep -qF "$key" "$doc" || continue
  diff -u --label deploy/argocd/health.lua --label "$doc" deploy/argocd/health.lua <(embedded_check "$doc") ||
    bad "$doc shows a different health check than deploy/argocd/health.lua"
done

if ((failed)); then
  exit 1
fi
log "ok: ${#files[@]} sample files, $(wc -l <"$work/actual.tsv") objects; kstatus and Argo CD health as expected"
