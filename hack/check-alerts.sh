#!/usr/bin/env bash
# The chart's alerts and dashboard (monitoring.* values), as the chart renders them: promtool
# checks the rules and runs their unit tests (hack/alerts/tests.yaml: every alert firing and not
# firing), every dashboard query parses (each is checked as a recording rule), and the dashboard
# is Grafana JSON with a Prometheus datasource variable. promtool and helm are built from Go
# modules once (hack/build-tools.sh, cached).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
hack/build-tools.sh helm promtool
ensure_venv
work=$(mktemp -d "${TMPDIR:-/tmp}/igz-alerts.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$TOOLS_BIN/helm" template igz-operator charts/igz-operator --namespace igz-system \
  --kube-version "${KUBE_VERSION#v}" \
  --set monitoring.prometheusRule.enabled=true --set monitoring.dashboard.enabled=true \
  >"$work/rendered.yaml"
"$VENV_PYTHON" - "$work" <<'PY'
import json, sys, yaml
work = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(f"{work}/rendered.yaml")) if d]
rule = next(d for d in docs if d["kind"] == "PrometheusRule")
yaml.safe_dump({"groups": rule["spec"]["groups"]}, open(f"{work}/rules.yaml", "w"))
alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard"))
assert config["metadata"]["labels"].get("grafana_dashboard") == "1", "the sidecar's label"
dashboard = json.loads(config["data"]["igz-operator.json"])
assert isinstance(dashboard.get("schemaVersion"), int), "a Grafana dashboard has a schemaVersion"
variables = dashboard["templating"]["list"]
assert any(v["type"] == "datasource" and v["query"] == "prometheus" for v in variables), \
    "a Prometheus datasource variable"
records = []
for panel in dashboard["panels"]:
    assert panel["datasource"]["uid"] == "${datasource}", f"panel {panel['title']} uses the variable"
    for target in panel["targets"]:
        records.append({"record": f"dashboard:panel{panel['id']}:{target['refId']}", "expr": target["expr"]})
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}, open(f"{work}/dashboard.yaml", "w"))
print(f"alerts: {', '.join(alerts)}; dashboard: {len(dashboard['panels'])} panels, {len(records)} queries")
PY
cp hack/alerts/tests.yaml "$work/tests.yaml"
"$TOOLS_BIN/promtool" check rules "$work/rules.yaml" "$work/dashboard.yaml" >&2
(cd "$work" && "$TOOLS_BIN/promtool" test rules tests.yaml) >&2
log "alerts: rules valid, every alert's unit tests pass; dashboard: every query parses"
