package vcenter

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/vcenter/vcentertest"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/vmware/govmomi/object"
)

// benchVMs is the scale of the issue: 4,000 VMs, one NIC each (8,000 interfaces per gateway,
// the 4K budget of 8192).
const benchVMs = 4000

// BenchmarkVCenterSync times, against the simulator and a real ovsdb-server: the cold sync of
// benchVMs VMs (login, inventory, plan, one transaction, one ReconfigureDVPort_Task, until the
// DB holds every row and every port its VLAN) and one VM's NIC re-plugged until its VMI's VN
// changed in the DB; beside it, in the same run, the baseline: `ovsgw db apply`'s path
// (configstore.Store.Apply) writing the same rows, by hand, into a fresh database.
// Run: make bench-vcenter.
func BenchmarkVCenterSync(b *testing.B) {
	for range b.N {
		benchOnce(b)
	}
}

func benchOnce(b *testing.B) {
	b.StopTimer()
	tb := testing.TB(b)
	v := vcentertest.NewSim(tb, "ovsgw-blue", "ovsgw-red")
	db, _ := testDBBlue(tb, "10.1.0.0/16")
	var wg sync.WaitGroup
	work := make(chan int)
	var mu sync.Mutex
	var first *object.VirtualMachine
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				vm := v.CreateVM(tb, fmt.Sprintf("vm%04d", i), [2]string{"ovsgw-blue", fmt.Sprintf("00:50:56:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff)})
				if i == 0 {
					mu.Lock()
					first = vm
					mu.Unlock()
				}
			}
		}()
	}
	for i := range benchVMs {
		work <- i
	}
	close(work)
	wg.Wait()
	cfg := testConfig(v)
	cfg.VLANMin, cfg.VLANMax, cfg.MaxInterfaces = 1, 4094, 2*model.DefaultMaxInterfaces-512 // 8192
	cfg.Networks = nil
	ctx := context.Background()

	start := time.Now()
	s := New(cfg, db)
	s.pollWait = testPollWait
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = s.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(b, db, "cold sync", func(st State) bool { return countOwned(st, "blue") == benchVMs && v.PortsSet() == benchVMs })
	cold := time.Since(start)
	coldSync := s.LastTiming()

	// One VM change: its NIC re-plugged to red.
	start = time.Now()
	v.Replug(tb, first, "00:50:56:00:00:00", "ovsgw-red")
	inVC := time.Since(start) // the reconfiguration in vCenter, part of the figure
	waitFor(b, db, "one change", func(st State) bool { return countOwned(st, "red") == 1 })
	one := time.Since(start)
	oneSync := s.LastTiming()

	// The baseline: the same rows written the db apply way into a fresh database.
	view, err := db.OwnedRead()
	if err != nil {
		b.Fatal(err)
	}
	rows := StateOf(view)
	_, store2 := testDBBlue(tb, "10.1.0.0/16")
	base, err := store2.Config()
	if err != nil {
		b.Fatal(err)
	}
	byName := map[string]*model.PhysicalInterface{}
	for i := range base.PhysicalRouters {
		pr := &base.PhysicalRouters[i]
		byName[pr.Name] = &pr.PhysicalInterfaces[0]
	}
	for _, vmi := range rows.VMIs {
		if vmi.Owner == "" {
			continue
		}
		m := model.VirtualMachineInterface{Name: vmi.Name, Network: vmi.Network, MAC: vmi.MAC}
		for _, ip := range vmi.IPs {
			m.InstanceIPs = append(m.InstanceIPs, model.InstanceIP{Address: ip})
		}
		base.VirtualMachineInterfaces = append(base.VirtualMachineInterfaces, m)
	}
	for _, li := range rows.LIs {
		if li.Owner == "" {
			continue
		}
		vlan := li.VLAN
		pi := byName[li.Router]
		pi.LogicalInterfaces = append(pi.LogicalInterfaces, model.LogicalInterface{Name: li.Name, VLAN: &vlan, VMI: li.VMI})
	}
	start = time.Now()
	if _, err := store2.Apply(ctx, base, false); err != nil {
		b.Fatal(err)
	}
	apply := time.Since(start)
	b.ReportMetric(cold.Seconds(), "cold-sync-s")
	b.ReportMetric(one.Seconds(), "one-change-s")
	b.ReportMetric(inVC.Seconds(), "of-which-reconfig-s")
	b.ReportMetric((oneSync.Plan + oneSync.Write + oneSync.Ports).Seconds(), "one-change-sync-s")
	b.ReportMetric(apply.Seconds(), "baseline-db-apply-s")
	b.Logf("%d VMs: cold sync %.2f s (login, inventory, plan, write, port VLANs; its writing pass: plan %v, write %v, ports %v)", benchVMs, cold.Seconds(), coldSync.Plan, coldSync.Write, coldSync.Ports)
	b.Logf("one NIC re-plugged → DB %.3f s, of which the reconfiguration call %.3f s and the sync's pass %v (plan %v, write %v, ports %v); the rest is the simulator's property collector",
		one.Seconds(), inVC.Seconds(), oneSync.Plan+oneSync.Write+oneSync.Ports, oneSync.Plan, oneSync.Write, oneSync.Ports)
	b.Logf("baseline: db apply of the same %d VMIs and %d logical interfaces %.2f s", benchVMs, 2*benchVMs, apply.Seconds())
}

// countOwned counts the sync's VMIs in VN vn.
func countOwned(st State, vn string) int {
	n := 0
	for _, v := range st.VMIs {
		if v.Owner != "" && v.Network == vn {
			n++
		}
	}
	return n
}

// waitFor waits, on the config DB's change signal, until ok holds.
func waitFor(b *testing.B, db *configdb.Client, what string, ok func(State) bool) {
	deadline := time.After(10 * time.Minute)
	for {
		ch := db.ConfigChanged()
		view, err := db.OwnedRead()
		if err != nil {
			b.Fatal(err)
		}
		if ok(StateOf(view)) {
			return
		}
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond): // the DVS ports are not in the DB
		case <-deadline:
			b.Fatalf("%s: not done after 10 minutes", what)
		}
	}
}
