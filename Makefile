# igz-operator: every target a user or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: test
test: ## Run every check and test: fmt, clippy, unit, integration (real control plane + emulator), SDK conformance
	@hack/preflight.sh test
	hack/test.sh

.PHONY: demo
demo: ## Run the operator end to end on built-in defaults (local control plane + emulator); KEEP=1 leaves it running
	@hack/preflight.sh demo
	KEEP=$(KEEP) hack/demo.sh

.PHONY: tools
tools: ## Build (once) and cache kube-apiserver, etcd and helm from Go modules
	hack/build-tools.sh

.PHONY: envtest-up
envtest-up: ## Start etcd + kube-apiserver on loopback; prints the KUBECONFIG export
	@hack/envtest-up.sh

.PHONY: envtest-down
envtest-down: ## Stop the control plane started by envtest-up and remove its state
	@hack/envtest-down.sh

.PHONY: image
image: ## Build localhost/igz-operator:<version> and localhost/igz-emulator:<version> (podman, FROM scratch, static musl)
	@hack/preflight.sh image
	hack/image.sh

.PHONY: demo-cluster
demo-cluster: ## The demo with the operator installed by helm as a Pod in the single-node cluster (root); KEEP=1 leaves it running
	@hack/preflight.sh demo-cluster
	KEEP=$(KEEP) hack/demo-cluster.sh

.PHONY: cluster-up
cluster-up: ## Start a single-node cluster (kubelet, containerd) in its own network namespace; prints the KUBECONFIG export (root)
	@hack/preflight.sh cluster-up
	@hack/cluster-up.sh

.PHONY: cluster-down
cluster-down: ## Stop the single-node cluster, remove its state and restore the host sysctls kubelet changed
	@hack/cluster-down.sh

.PHONY: cluster-check
cluster-check: ## Check the single-node cluster: probes, Services, in-cluster API access, restricted Pods, helm --wait
	hack/cluster-check.sh

.PHONY: test-cluster
test-cluster: ## Run the in-cluster tests (tests/cluster/): cluster-up, image + import, helm-installed operator Pods (root); KEEP=1 leaves the cluster running
	@hack/preflight.sh test-cluster
	KEEP=$(KEEP) hack/test-cluster.sh

.PHONY: crds
crds: ## Regenerate crds/ (and the chart's copy) from the Rust types
	hack/gen-crds.sh

.PHONY: bench
bench: ## Run the benchmarks; each prints ratios against a baseline measured in the same run
	hack/bench.sh

.PHONY: fmt
fmt: ## Format the code
	$(CARGO) fmt --all
