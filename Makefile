# ovsgw: `make demo` shows it working on a real userspace Open vSwitch; `make test` runs every
# test. Both install the Debian packages they need (root required, as for OVS itself).

GO      ?= go
BIN     := bin/ovsgw
SCHEMAS := /usr/share/openvswitch
# Go test timeout: the suite takes a few minutes on 2 cores; this only stops a hung run.
TEST_TIMEOUT ?= 14m

.PHONY: all deps generate build test unit e2e demo bench bench-ha fuzz fmt vet clean cluster

all: build

deps:
	@scripts/install-deps.sh

# The Open_vSwitch and hardware_vtep models are generated from the installed schemas, never
# committed; the config DB models from ours (schemas/gateway.ovsschema), likewise.
generate: deps
	@$(GO) tool modelgen -p vswitchd -o ovsdb/vswitchd $(SCHEMAS)/vswitch.ovsschema
	@$(GO) tool modelgen -p gatewaydb -o ovsdb/configdb/gatewaydb schemas/gateway.ovsschema
	@$(GO) tool modelgen -p hwvtep -o ovsdb/vtep/hwvtep $(SCHEMAS)/vtep.ovsschema

build: generate
	$(GO) build -o $(BIN) ./cmd/ovsgw

vet: generate
	$(GO) vet ./...

test: build vet
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# Unit tests only: no OVS processes, no namespaces.
unit: generate
	$(GO) test -count=1 ./gateway/... ./cmd/...

e2e: build
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -v ./test/...

demo: build
	$(GO) run ./test/demo --ovsgw $(BIN) --examples examples

# HA failover on a real RSTP ToR: failover time, lost pings, the ToR's own convergence.
bench-ha: build
	$(GO) test -run '^$$' -bench HAFailover -benchtime 1x -count 1 ./test/e2e/

# One table from one run on a real userspace OVS: cold start of 1K, 2K and 4K remote instances
# by phase, against ovs-ofctl --bundle replace-flows of the same flows; one-instance changes at
# 4K (p50/p99, flow mods); the agent's peak RSS and CPU. A few minutes on 2 cores.
bench: build
	$(GO) run ./test/bench --ovsgw $(BIN)

# Go fuzz targets of the parsers, each for FUZZTIME: flow and group text (what `ovsgw flows`
# prints), the gateway YAML, the agent INI. What they find lands in testdata/fuzz of the package.
FUZZTIME ?= 20s
FUZZ_TARGETS := ./openflow:FuzzParseFlow ./openflow:FuzzParseGroup \
	./gateway/model:FuzzParseConfig ./gateway/agentconf:FuzzParseAgentConf
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($${t%%:*}) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

# A 3-member Raft cluster of the config DB on loopback, for trying `ovsgw db`:
#   make cluster                    start (prints the --db string)
#   make cluster CLUSTER=status     CLUSTER=stop; CLUSTER_DIR=DIR picks the run directory
CLUSTER ?= start
cluster: deps
	@scripts/cluster.sh $(CLUSTER) $(CLUSTER_DIR)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin ovsdb/vswitchd ovsdb/configdb/gatewaydb ovsdb/vtep/hwvtep
