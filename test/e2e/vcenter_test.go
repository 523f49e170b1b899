package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/vcenter/vcentertest"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
	"github.com/ovsgw/ovsgw/test/lab"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// vcenterYAML is the hand-written part of the config: two VNs on one subnet (isolation must
// come from the VNs, not from routing), gw1's NIC, a local VM, and two addresses of red held
// by VMIs bound nowhere, so that the sync's first red address is none of blue's.
const vcenterYAML = `
virtualNetworks:
  - {name: blue, vni: 5001, subnets: [10.1.0.0/24]}
  - {name: red, vni: 5002, subnets: [10.1.0.0/24]}
physicalRouters:
  - name: gw1
    physicalInterfaces:
      - name: eth1
virtualMachineInterfaces:
  - {name: vm1, network: blue, mac: "02:00:00:00:02:01", instanceIPs: [{address: 10.1.0.20}]}
  - {name: red-held1, network: red, mac: "02:00:00:00:03:01", instanceIPs: [{address: 10.1.0.2}]}
  - {name: red-held2, network: red, mac: "02:00:00:00:03:02", instanceIPs: [{address: 10.1.0.3}]}
`

// VMware VMs through ovsgw, end to end. vCenter is govmomi's simulator; its VMs stand for
// network namespaces on an emulated DVS: an OVS bridge whose access ports take their VLANs from
// the simulator's DVS ports (where the sync set them), trunked to gateway gw1, whose agent reads
// its config from the config DB the sync writes. The VMs ping a local VM and each other within
// their VN, not across VNs; a NIC re-plugged to the other VN then reaches it.
func TestVCenterVMsThroughTheGateway(t *testing.T) {
	testbed.Require(t)
	schema, err := filepath.Abs("../../schemas/gateway.ovsschema")
	if err != nil {
		t.Fatal(err)
	}
	db := configdbtest.NewStandalone(t, schema)
	file := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(file, []byte(vcenterYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := ovsgwCLI("db", "apply", "-f", file, "--db", db.Endpoint); err != nil {
		t.Fatalf("db apply: %v\n%s", err, out)
	}

	sim := vcentertest.NewSim(t, "ovsgw-blue", "ovsgw-red")
	sim.CreateVM(t, "web", [2]string{"ovsgw-blue", "00:50:56:00:00:01"})
	sim.CreateVM(t, "app", [2]string{"ovsgw-blue", "00:50:56:00:00:02"})
	dbVM := sim.CreateVM(t, "db", [2]string{"ovsgw-red", "00:50:56:00:00:03"})
	ctx, cancel := context.WithTimeout(context.Background(), configdbtest.ServerReady)
	defer cancel()
	client, err := configdb.Connect(ctx, []string{db.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	startVCenterSync(t, sim, db.Endpoint)

	// The DVS, and the gateway with its agent on the config DB.
	dvs := testbed.NewToR(t, "dvs")
	gw := testbed.NewNode(t, "gw1")
	testbed.Link(t, dvs.NS, "trunk0", gw.NS, "eth1")
	dvs.TrunkPort(t, "trunk0")
	vm1 := testbed.NewHost(t, "vm1", gw, "vm1p", "02:00:00:00:02:01", "10.1.0.20/24")
	agent := testbed.NewAgent(t, ovsgwBin, gw, testbed.AgentOptions{Hostname: "gw1", GatewayMode: true, ConfigDB: db.Endpoint}, "")
	lab.Eventually(t, 10*time.Second, "bridge br-int created by the agent", func() error {
		_, err := gw.Vsctl("br-exists", "br-int")
		return err
	})
	gw.MustVsctl(t, "add-port", "br-int", "vm1p", "--", "set", "interface", "vm1p", "external_ids:iface-id=vm1")

	// Each VM NIC the sync mapped becomes a host on an access port of its DVS port's VLAN, with
	// its MAC and the address of its VMI.
	vms := map[string]*testbed.Host{}
	var names []string
	plug := func(vm string, nic vcentertest.NIC) {
		var ip string
		var vlan int
		lab.Eventually(t, 30*time.Second, "the sync mapped "+vm, func() error {
			view, err := client.OwnedRead()
			if err != nil {
				return err
			}
			ip = ""
			for _, v := range view.VMIs {
				if v.Name == nic.Name && v.Network == nic.Network {
					for a := range v.InstanceIPs {
						ip = a
					}
				}
			}
			ports, _ := sim.Ports.Snapshot()
			vlan = ports[nic.Port]
			if ip == "" || vlan == 0 {
				return fmt.Errorf("VMI %s in %s: address %q, DVS port %s VLAN %d", nic.Name, nic.Network, ip, nic.Port, vlan)
			}
			return nil
		})
		vms[vm] = dvs.AddHost(t, vm, vlan, nic.MAC, ip+"/24")
	}
	macToVM := map[string]string{"00:50:56:00:00:01": "web", "00:50:56:00:00:02": "app", "00:50:56:00:00:03": "db"}
	nics := sim.MappedNICs(t, "vc1-", map[string]string{"ovsgw-blue": "blue", "ovsgw-red": "red"})
	if len(nics) != 3 {
		t.Fatalf("simulator NICs %+v", nics)
	}
	for name, nic := range nics {
		plug(macToVM[nic.MAC], nic)
		names = append(names, name)
	}
	l := &lab.Gateway{GW: gw, ToR: dvs.Node, Agent: agent}
	l.WaitBound(t, append(names, "vm1")...)

	vms["web"].MustPing(t, vm1.IP)          // a remote VM to a local VM of its VN
	vms["app"].MustPing(t, vms["web"].IP)   // two VMs of blue, through the gateway
	vms["web"].MustNotPing(t, vms["db"].IP) // red is another VN, on the same subnet
	vms["db"].MustNotPing(t, vm1.IP)

	// db's NIC re-plugged to blue: its VMI moves to blue with an address of blue (here the one
	// it had: red and blue share the subnet and blue does not use it), and keeps its VLAN, which the sync sets on the NIC's new DVS port: the host stays on its access port and
	// takes the new address.
	oldPorts, _ := sim.Ports.Snapshot()
	oldVLAN := oldPorts[nics[dbName(nics)].Port]
	sim.Replug(t, dbVM, "00:50:56:00:00:03", "ovsgw-blue")
	var moved vcentertest.NIC
	for _, nic := range sim.MappedNICs(t, "vc1-", map[string]string{"ovsgw-blue": "blue", "ovsgw-red": "red"}) {
		if nic.MAC == "00:50:56:00:00:03" {
			moved = nic
		}
	}
	var ip string
	lab.Eventually(t, 30*time.Second, "db's VMI moved to blue, its new port on its VLAN", func() error {
		view, err := client.OwnedRead()
		if err != nil {
			return err
		}
		ip = ""
		for _, v := range view.VMIs {
			if v.Name == moved.Name && v.Network == "blue" {
				for a := range v.InstanceIPs {
					ip = a
				}
			}
		}
		ports, _ := sim.Ports.Snapshot()
		if ip == "" || ports[moved.Port] != oldVLAN {
			return fmt.Errorf("VMI %s: blue address %q; port %s VLAN %d, want %d", moved.Name, ip, moved.Port, ports[moved.Port], oldVLAN)
		}
		return nil
	})
	h := vms["db"]
	h.MustExec(t, "ip", "addr", "flush", "dev", testbed.HostIf)
	h.MustExec(t, "ip", "addr", "add", ip+"/24", "dev", testbed.HostIf)
	h.IP = ip
	lab.Eventually(t, 30*time.Second, "gw1 serves db in blue", func() error {
		_, err := h.Ping(vm1.IP, 1, 2*time.Second)
		return err
	})
	// web's neighbour entry for that address failed while db was in red: forget it.
	vms["web"].MustExec(t, "ip", "neigh", "flush", "dev", testbed.HostIf)
	vms["web"].MustPing(t, h.IP)

	out, err := ovsgwCLI("vcenter", "status", "--db", db.Endpoint)
	if err != nil {
		t.Fatalf("vcenter status: %v\n%s", err, out)
	}
	var row []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "vc1" {
			row = f
		}
	}
	if len(row) < 7 || !slices.Equal(row[2:7], []string{"true", "3", "3", "3", "97"}) {
		t.Errorf("vcenter status: want vc1 connected, 3 VMs, 3 NICs mapped, 3 VLANs used, 97 free:\n%s", out)
	}
}

// startVCenterSync runs `ovsgw vcenter sync` on the simulator, writing to the config DB at
// endpoint, until the test ends (stopped by its process handle).
func startVCenterSync(t *testing.T, sim *vcentertest.Sim, endpoint string) {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf(`[VCENTER]
name = vc1
url = %s
credentials = credentials
ca_cert = %s
dvs = %s
uplinks = gw1:eth1
vlans = 100-199
network_prefix = ovsgw-
`, sim.URL(), sim.CAFile, vcentertest.DVS)
	for name, content := range map[string]string{"vcenter.conf": conf,
		"credentials": "username = " + vcentertest.User + "\npassword = " + vcentertest.Password + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logFile, err := os.Create(filepath.Join(dir, "sync.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ovsgwBin, "vcenter", "sync", "--config", filepath.Join(dir, "vcenter.conf"), "--db", endpoint)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the test binary
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("vcenter sync exited: %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("vcenter sync did not stop on SIGTERM")
		}
		logFile.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logFile.Name())
			t.Logf("vcenter sync log:\n%s", data)
		}
	})
}

// dbName is the name of db's VMI among nics.
func dbName(nics map[string]vcentertest.NIC) string {
	for name, nic := range nics {
		if nic.MAC == "00:50:56:00:00:03" {
			return name
		}
	}
	return ""
}
