# ovsgw: `make demo` shows it working on a real userspace Open vSwitch; `make test` runs every
# test. Both install the Debian packages they need (root required, as for OVS itself).

GO      ?= go
BIN     := bin/ovsgw
SCHEMAS := /usr/share/openvswitch
# Go test timeout: the suite takes a few minutes on 2 cores; this only stops a hung run.
TEST_TIMEOUT ?= 14m
# Extra flags of the end-to-end go test (CI: -v, so that a failure shows its test's log).
E2E_FLAGS ?=

.PHONY: all deps generate build test unit e2e demo bench bench-ha bench-vcenter fuzz fmt vet clean cluster deb

all: build

deps:
	@scripts/install-deps.sh

# The Open_vSwitch and hardware_vtep models are generated from the installed schemas, never
# committed; the config DB models from ours (schemas/gateway.ovsschema), likewise.
generate: deps
	@$(GO) tool modelgen -extended -p vswitchd -o ovsdb/vswitchd $(SCHEMAS)/vswitch.ovsschema
	@$(GO) tool modelgen -extended -p gatewaydb -o ovsdb/configdb/gatewaydb schemas/gateway.ovsschema
	@$(GO) tool modelgen -extended -p hwvtep -o ovsdb/vtep/hwvtep $(SCHEMAS)/vtep.ovsschema

build: generate
	$(GO) build -o $(BIN) ./cmd/ovsgw

vet: generate
	$(GO) vet ./...

# Every package but the end-to-end suites runs under the race detector; the end-to-end suites
# (test/...) drive real OVS through the built binary, where -race would only slow them down.
UNIT_PKGS = $$($(GO) list ./... | grep -v '/test/')

test: build vet
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(UNIT_PKGS)
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(E2E_FLAGS) ./test/...

# Unit tests only: no OVS processes, no namespaces.
unit: generate
	$(GO) test -race -count=1 ./gateway/... ./cmd/...

e2e: build
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -v ./test/...

demo: build
	$(GO) run ./test/demo --ovsgw $(BIN) --examples examples

# HA on real RSTP switches (one, and two joined by a link; fast and default timers): failover
# and failback at 20 ms pings, lost pings, the switches' RSTP transitions from their logs; then
# 20 link cuts at random intervals with storm and duplicate detection. About 7 minutes.
bench-ha: build
	$(GO) test -run '^$$' -bench HAFailover -benchtime 1x -count 1 -timeout 30m -v ./test/e2e/

# The vCenter sync at 4,000 VMs, against govmomi's simulator and a real ovsdb-server: cold sync,
# and one re-plugged NIC to the config DB, beside `db apply` of the same rows, in one run.
# `make bench` runs it too, after its tables.
BENCH_VCENTER = $(GO) test -run '^$$' -bench VCenterSync -benchtime 1x -count 1 -timeout 30m ./gateway/vcenter/
bench-vcenter: generate
	$(BENCH_VCENTER)

# Two tables from one run on a real userspace OVS. One, for the config as one YAML file, as a directory
# and in the config DB, at 1K, 4K and 16K remote instances: cold start by phase beside ovs-ofctl
# --bundle replace-flows of the same flows; one-instance add/change/remove (p50/p99, flow mods);
# security group changes at 4K; db apply time; idle CPU with 50 peers heartbeating; peak RSS;
# targets marked; file mode at 4K again with metrics served and scraped, beside the same
# without; and first, on one gateway node: DHCPv4 leases answered per second with 16 and 256
# remote instances asking at once, beside the meters' bound; a TCP stream (iperf3) switched and
# routed between two VMs. Then the vCenter sync's benchmark (bench-vcenter). About 25 minutes on 2
# cores (flags for a quick run: go run ./test/bench -h).
bench: build
	$(GO) run ./test/bench --ovsgw $(BIN)
	$(BENCH_VCENTER)

# Go fuzz targets of the parsers, each for FUZZTIME: flow and group text (what `ovsgw flows`
# prints), the OpenFlow binary decoders (flow-stats and group-desc replies, instructions and
# actions, error messages, packet-ins: what the switch sends), the gateway YAML, the agent INI,
# the frames instances send to the node's services (DHCPv4, neighbour discovery, echo), a config
# DB row as a server sends it (decoded and checked; state rows converted), config DB rows
# converted to the model (incrementally and in full). What they find lands in testdata/fuzz of
# the package.
FUZZTIME ?= 20s
FUZZ_TARGETS := ./openflow:FuzzParseFlow ./openflow:FuzzParseGroup \
	./openflow:FuzzDecodeFlowStats ./openflow:FuzzDecodeGroupDesc ./openflow:FuzzDecodeInstructions \
	./openflow:FuzzDecodeActions ./openflow:FuzzParseError ./openflow:FuzzDecodePacketIn \
	./gateway/model:FuzzParseConfig ./gateway/agentconf:FuzzParseAgentConf ./gateway/netsvc:FuzzServe \
	./ovsdb/configdb:FuzzReadRow ./gateway/configstore:FuzzConfigRows
fuzz: generate
	@GO=$(GO) scripts/fuzz.sh $(FUZZTIME) $(FUZZ_TARGETS)

# A 3-member Raft cluster of the config DB on loopback, over mutual TLS (a PKI made with ovs-pki
# in its run directory), for trying `ovsgw db`:
#   make cluster                    start (prints --db and the TLS flags)
#   make cluster CLUSTER=status     CLUSTER=stop; CLUSTER_DIR=DIR picks the run directory
CLUSTER ?= start
cluster: deps
	@scripts/cluster.sh $(CLUSTER) $(CLUSTER_DIR)

# The Debian package (scripts/deb/build.sh, with dpkg-deb): the static binary, the systemd unit,
# /etc/ovsgw/agent.conf, completions and man pages, into DEB_DIR. Its version is VERSION when
# set, else from git describe (scripts/deb/version.sh). scripts/deb/check.sh checks a package.
DEB_DIR ?= bin
deb: generate
	@scripts/deb/build.sh $(DEB_DIR)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin ovsdb/vswitchd ovsdb/configdb/gatewaydb ovsdb/vtep/hwvtep
