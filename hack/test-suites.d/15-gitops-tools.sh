#!/usr/bin/env bash
# The GitOps status evaluators (kstatus helper, Argo CD health check) agree with the expected
# table on the sample Groups, and README.md carries the health check verbatim.
exec "$(dirname "$0")/../tools/check-gitops-tools.sh"
