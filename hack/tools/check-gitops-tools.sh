#!/usr/bin/env bash
# Self-check of the two GitOps status evaluators on hand-written Group objects: the kstatus helper
# (the library Flux and kpt use; hack/build-tools.sh kstatus) and our Argo CD health check
# (deploy/argocd/health.lua, run by hack/argocd-health.sh). Each sample in gitops-samples/ stands
# for one row of the status contract; expected.tsv says what each tool must answer. Also checks
# that stdin and file input agree and that bad input fails. Exit 1 on any mismatch.
# Cheap once kstatus is cached (a first build takes a minute or two). KSTATUS=path skips the build.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

samples=hack/tools/gitops-samples
expected=$samples/expected.tsv
if [[ -z ${KSTATUS:-} ]]; then
  hack/build-tools.sh kstatus
  KSTATUS=$TOOLS_BIN/kstatus
fi
argocd=hack/argocd-health.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/igz-gitops-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0
bad() { log "FAIL: $*"; failed=1; }

files=("$samples"/*.json)
"$KSTATUS" "${files[@]}" >"$work/kstatus.tsv"
"$argocd" "${files[@]}" >"$work/argocd.tsv"

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
cat "${files[@]}" | "$argocd" | cmp -s - "$work/argocd.tsv" || bad "argocd-health: stdin and file input differ"

# Bad input fails loudly (and prints nothing on stdout); an empty List is fine and prints nothing.
for input in '' '[{"metadata": {"name": "x"}}]' '{"spec": {}}' '{"metadata": {"name": "x"}} {'; do
  for tool in "$KSTATUS" "$argocd"; do
    if out=$(printf '%s' "$input" | "$tool" 2>/dev/null) || [[ -n $out ]]; then
      bad "$(basename "$tool") accepted bad input: '$input'"
    fi
  done
done
for tool in "$KSTATUS" "$argocd"; do
  out=$(printf '{"kind": "List", "items": []}' | "$tool") || bad "$(basename "$tool") refused an empty List"
  [[ -z $out ]] || bad "$(basename "$tool") printed something for an empty List"
done

# The README shows the health check inside an argocd-cm example; that copy must be the file.
embedded_check() { # FILE: the block under the argocd-cm key, indentation removed
  awk -v key='resource.customizations.health.igz-operator.io_Group: |' '
    !on && index($0, key) { match($0, /^ */); ind = RLENGTH + 2; on = 1; next }
    on && $0 != "" && substr($0, 1, ind) !~ /^ *$/ { exit }
    on { line[++n] = substr($0, ind + 1); if ($0 != "") last = n }
    END { for (i = 1; i <= last; i++) print line[i] }
  ' "$1"
}
for doc in README.md; do
  [[ -f $doc ]] || continue
  grep -q 'resource.customizations.health.igz-operator.io_Group: |' "$doc" || continue
  diff -u --label deploy/argocd/health.lua --label "$doc" deploy/argocd/health.lua <(embedded_check "$doc") ||
    bad "$doc shows a different health check than deploy/argocd/health.lua"
done

if ((failed)); then
  exit 1
fi
log "ok: ${#files[@]} sample files, $(wc -l <"$work/actual.tsv") objects; kstatus and Argo CD health as expected"
