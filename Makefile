# bpfleet: `make run` brings the whole system up on this machine; `make test`
# proves it. Longer logic lives in hack/*.sh.

CONTROLLER_GEN := go tool controller-gen
GO_TEST_FLAGS ?= -timeout 30m
REGISTRY ?=
TAG ?= dev
# Tags every binary is built with (internal/images.BuildTags says why).
BUILD_TAGS := grpcnotrace

.PHONY: help
help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## Install the Debian packages the build and tests need (clang, libbpf-dev, bpftool, iproute2, containerd, runc, CNI plugins, prometheus).
	@hack/install-deps.sh

.PHONY: bins
bins: ## Build etcd, kube-apiserver, kubectl, kubelet, kube-controller-manager, kube-scheduler and cosign from the Go module proxy into bin/ (cached).
	@hack/envtest-bins.sh
	@hack/cosign.sh

.PHONY: corpus
corpus: ## Download the BPF objects Debian packages ship (test/corpus/corpus.list) into .cache/corpus/ (cached).
	@hack/corpus.sh

.PHONY: generate
generate: ## Generate the kinds' enum and RBAC markers, deepcopy code, and compile bpf/*.c into the committed objects.
	go run ./hack/kinds
	$(CONTROLLER_GEN) object paths=./api/...
	hack/gen-bpf.sh

.PHONY: manifests
manifests: ## Generate CRDs and RBAC roles from the kubebuilder markers, and the Argo CD health config.
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	go run ./hack/schemaless spec.programs config/crd/bases/bpfleet.io_nodeprogramsets.yaml
	go run ./hack/schemaless status.programs config/crd/bases/bpfleet.io_nodeprogramreports.yaml
	$(CONTROLLER_GEN) rbac:roleName=bpfleet-operator paths=./controllers/... output:rbac:artifacts:config=config/rbac/operator
	$(CONTROLLER_GEN) rbac:roleName=bpfleet-agent paths=./bpfman-agent/... output:rbac:artifacts:config=config/rbac/agent
	hack/argocd-cm.sh

.PHONY: verify
verify: deps ## Fail if generated files are not current.
	hack/verify.sh

# What `bpfleet version`, the logs and the *_build_info metrics say.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X github.com/bpfleet/bpfleet/internal/buildinfo.version=$(VERSION) -X github.com/bpfleet/bpfleet/internal/buildinfo.revision=$(REVISION)

.PHONY: build
build: ## Build the operator, the agent, the local stack and the CLI into bin/, with bin/kubectl-bpfleet (the kubectl plugin) beside bpfleet.
	go build -tags $(BUILD_TAGS) -ldflags "$(LDFLAGS)" -o bin/ ./cmd/... ./bpfman-agent
	ln -sf bpfleet bin/kubectl-bpfleet

.PHONY: images
images: ## Build the operator and agent images (linux/amd64, linux/arm64, no Docker) and push them to $(REGISTRY) as :$(TAG) (default dev).
	$(if $(REGISTRY),,$(error REGISTRY is empty: make images REGISTRY=ghcr.io/you [TAG=dev] pushes ghcr.io/you/bpfleet-operator:dev and ghcr.io/you/bpfman-agent:dev))
	go run ./hack/images -registry $(REGISTRY) -tag $(TAG)

.PHONY: test
test: deps bins corpus verify ## Run every test: envtest, kernel (root), end to end, the install on a real one-node cluster; then the kernel tests on Debian's kernels (vmtest).
	go vet ./...
	go test $(GO_TEST_FLAGS) ./...
	$(MAKE) vmtest

.PHONY: vmtest
vmtest: bins ## Run the kernel tests on Debian's 6.1 and 6.12 kernels, one qemu VM each, against an API server on the host (hack/vmkernel; RUN=regexp).
	go run ./hack/vmkernel/run -apiserver $(if $(RUN),-run '$(RUN)')

.PHONY: bench
bench: deps bins ## Run the benchmarks and write their figures into docs/benchmarks.md (raw output in .bench/).
	@hack/bench.sh

.PHONY: bench-doc
bench-doc: ## Render docs/benchmarks.md's generated section again from the last raw output (.bench/latest).
	go run ./hack/benchdoc -raw .bench/latest -doc docs/benchmarks.md

.PHONY: run
run: deps bins ## Run the whole system on this machine (apiserver, registry, operator, agent), with the CLI and kubectl plugin in bin/.
	go build -tags $(BUILD_TAGS) -ldflags "$(LDFLAGS)" -o bin/ ./cmd/bpfleet-local ./cmd/bpfleet && ln -sf bpfleet bin/kubectl-bpfleet && bin/bpfleet-local

.PHONY: cluster
cluster: deps bins ## Run a one-node Kubernetes cluster (kubelet, containerd) with bpfleet installed from this tree's images; prints its kubeconfig.
	go run ./hack/cluster

.PHONY: lint
lint: ## gofmt and go vet.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
