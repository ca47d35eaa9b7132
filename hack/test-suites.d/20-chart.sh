#!/usr/bin/env bash
# The Helm chart lints, and deploy/igz-operator.yaml and the chart's CRD copy are up to date.
exec "$(dirname "$0")/../check-chart.sh"
