package model_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
)

// configSeeds are the example and test configs the fuzzer starts from.
var configSeeds = []string{
	"../../examples/*.yaml",
	"../pipeline/testdata/*.yaml",
}

// FuzzParseConfig: Parse and Validate never panic on any input; a config that validates is
// indexed, budget-checked and compiled for each of its nodes without panicking, and marshals
// to YAML that parses and validates again, and marshals to the same YAML.
func FuzzParseConfig(f *testing.F) {
	n := 0
	for _, pattern := range configSeeds {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
			n++
		}
	}
	if n == 0 {
		f.Fatalf("no seed configs found in %v", configSeeds)
	}
	f.Add([]byte(""))
	f.Add([]byte("virtualNetworks: [{name: a, vni: 1}]\nvirtualMachineInterfaces: [{name: v, network: a, mac: \"02:00:00:00:00:01\"}]\n" +
		"physicalRouters: [{name: gw1, physicalInterfaces: [{name: eth1, logicalInterfaces: [{name: l, vlan: 0, vmi: v}]}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := model.Parse(data)
		if err != nil {
			return
		}
		verr := c.Validate()
		if verr != nil {
			if _, ok := verr.(model.Errors); !ok {
				t.Fatalf("Validate returned %T, want model.Errors: %v", verr, verr)
			}
			return
		}
		x := model.NewIndex(c)
		hosts := []string{"no-such-node"}
		for _, pr := range c.PhysicalRouters {
			hosts = append(hosts, pr.Name)
		}
		for _, h := range hosts {
			used := x.InterfacesUsed(h)
			if err := x.CheckCapacity(h, used); err != nil {
				t.Fatalf("node %s: a budget of exactly %d interfaces refused: %v", h, used, err)
			}
			if used > 0 && x.CheckCapacity(h, used-1) == nil {
				t.Fatalf("node %s: %d interfaces accepted on a budget of %d", h, used, used-1)
			}
			var ports []pipeline.Port
			if pr := x.Router(h); pr != nil {
				for i, pi := range pr.PhysicalInterfaces {
					ports = append(ports, pipeline.Port{Name: pi.Name, OFPort: int32(i + 1)})
				}
			}
			pipeline.Compile(pipeline.Input{Index: x, Host: h, GatewayMode: true, Ports: ports})
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("a valid config does not marshal: %v", err)
		}
		c2, err := model.Parse(out)
		if err != nil {
			t.Fatalf("a valid config marshals to YAML that does not parse: %v\n%s", err, out)
		}
		if err := c2.Validate(); err != nil {
			t.Fatalf("a valid config marshals to YAML that does not validate: %v\n%s", err, out)
		}
		out2, err := yaml.Marshal(c2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("marshal is not stable (%v):\n%s\nthen:\n%s", err, out, out2)
		}
	})
}
