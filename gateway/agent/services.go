package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/netsvc"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/openflow"
)

// The node's services: the pipeline punts a bound VMI's DHCPv4, router solicitations and
// neighbour solicitations for its IPv6 gateways (through its meter and the shared one); the
// agent answers them with package netsvc and sends the replies back into the pipeline's output
// table as if they came from nowhere, to the VMI (which pushes a remote instance's VLAN). It
// also advertises the router to every VMI with SLAAC every netsvc.RAInterval.
const (
	// packetInQueue is how many packet-ins wait for the agent before more are dropped (and
	// counted): two seconds of the shared meter's burst.
	packetInQueue = int(2 * pipeline.SharedMeterBurst)
	// overlayMTU leaves room for VXLAN's 50 bytes of headers in a 1500-byte underlay.
	overlayMTU = 1450
	plainMTU   = 1500
)

// serviceState is the services' counters and the meters on the switch.
type serviceState struct {
	mu       sync.Mutex // guards counters and errors, which status reads
	counters netsvc.Counters
	errors   uint64 // replies that could not be sent

	installed map[uint32]openflow.Meter // on the switch; owned by the reconcile loop (nil: unknown)
	wanted    map[uint32]bool
	// ours are the meters this agent added, or found exactly as it wants them: meters have no
	// cookie, so any other meter on the bridge may be someone else's, and is never modified or
	// deleted (deleting a meter deletes the flows that use it).
	ours    map[uint32]bool
	foreign map[uint32]bool // foreign meters at ids ovsgw wants, already logged
	// synced says installed holds every meter of the engine's meters version synced, and
	// nothing ovsgw no longer wants: until that version changes (or the switch is read again),
	// a sync need not compare thousands of meters.
	synced   bool
	syncedAt uint64
}

// meterSession is what meters need of the OpenFlow connection (an *openflow.Conn; the sync
// tests' fake has none, and gets none).
type meterSession interface {
	ModMeters(ctx context.Context, mods ...openflow.MeterMod) error
	DumpMeters(ctx context.Context) ([]openflow.Meter, error)
}

// addMeters puts the meters the flows about to be sent use on the switch, before their bundle
// (OVS 3.1 refuses meter mods in bundles); dump: what the switch holds is unknown.
func (a *Agent) addMeters(ctx context.Context, conn flowSession, dump bool) error {
	ms, ok := conn.(meterSession)
	if !ok {
		return nil
	}
	svc := &a.svc
	version := a.engine.MetersVersion()
	if !dump && svc.installed != nil && svc.synced && svc.syncedAt == version {
		return nil
	}
	svc.synced = false
	if dump || svc.installed == nil {
		have, err := ms.DumpMeters(ctx)
		if err != nil {
			return err
		}
		svc.installed = make(map[uint32]openflow.Meter, len(have))
		for _, m := range have {
			svc.installed[m.ID] = m
		}
	}
	svc.wanted = map[uint32]bool{}
	if svc.ours == nil {
		svc.ours, svc.foreign = map[uint32]bool{}, map[uint32]bool{}
	}
	var mods []openflow.MeterMod
	for _, m := range a.engine.Meters() {
		svc.wanted[m.ID] = true
		switch have, ok := svc.installed[m.ID]; {
		case !ok:
			mods = append(mods, openflow.MeterMod{Command: openflow.MeterAdd, Meter: m})
		case have.Equal(m):
			svc.ours[m.ID] = true // as ovsgw makes them: ovsgw's (from before a restart)
		case svc.ours[m.ID]:
			mods = append(mods, openflow.MeterMod{Command: openflow.MeterModify, Meter: m})
		case !svc.foreign[m.ID]:
			svc.foreign[m.ID] = true
			fields := logrus.Fields{"meter": m.ID}
			if vmi := a.engine.MeterVMI(m.ID); vmi != "" {
				fields[logging.Object] = model.VMIPath(vmi)
			}
			log.WithFields(fields).Warn("a meter ovsgw did not make holds the id ovsgw wants for this VMI's punts: left alone, and the VMI's punts pass it")
		}
	}
	if err := ms.ModMeters(ctx, mods...); err != nil {
		svc.installed = nil // read them again
		return fmt.Errorf("add meters: %w", err)
	}
	for _, m := range mods {
		svc.installed[m.Meter.ID] = m.Meter
		svc.ours[m.Meter.ID] = true
	}
	svc.syncedAt = version
	return nil
}

// deleteMeters removes ovsgw's meters that no flow wants any more, after the bundle that
// removed their flows (deleting a meter deletes the flows that use it).
func (a *Agent) deleteMeters(ctx context.Context, conn flowSession) {
	ms, ok := conn.(meterSession)
	if !ok || a.svc.installed == nil || a.svc.synced {
		return
	}
	var mods []openflow.MeterMod
	for id, m := range a.svc.installed {
		if a.svc.ours[id] && !a.svc.wanted[id] {
			mods = append(mods, openflow.MeterMod{Command: openflow.MeterDelete, Meter: openflow.Meter{ID: m.ID}})
		}
	}
	if err := ms.ModMeters(ctx, mods...); err != nil {
		log.WithError(err).Warn("cannot delete unused meters; retrying at the next sync")
		a.svc.installed = nil
		return
	}
	for _, m := range mods {
		delete(a.svc.installed, m.Meter.ID)
		delete(a.svc.ours, m.Meter.ID)
	}
	a.svc.synced = true // (addMeters set syncedAt to the version these follow)
}

// serve answers the packet-ins of one OpenFlow connection and sends router advertisements,
// until the connection closes.
func (a *Agent) serve(ctx context.Context, conn *openflow.Conn) {
	pins, err := conn.ListenPacketIns(ctx, packetInQueue)
	if err != nil {
		log.WithError(err).Warn("cannot receive packet-ins: no DHCP or neighbour discovery answers on this connection")
		return
	}
	ticker := time.NewTicker(netsvc.RAInterval)
	defer ticker.Stop()
	for {
		select {
		case pi, ok := <-pins:
			if !ok {
				return
			}
			if len(pi.Userdata) == 1 && (pi.Userdata[0] == pipeline.ServiceBPDU || pi.Userdata[0] == pipeline.ServiceBPDURelay) {
				a.onBPDU(ctx, pi)
				continue
			}
			a.answer(ctx, conn, pi)
		case <-ticker.C:
			a.advertise(ctx, conn)
		case <-ctx.Done():
			return
		}
	}
}

// serviceTarget is a bound VMI the services answer, as a packet-in names it.
type serviceTarget struct {
	id  uint32
	vni uint32
	ifc netsvc.Interface
	ra  bool // one of its IPv6 subnets has DHCP (router advertisements) on
}

// target finds the VMI with id and what netsvc needs of it, from the config in force and the
// names of the last sync (read under the lock, used outside it).
func (a *Agent) target(id uint32) (serviceTarget, bool) {
	a.mu.Lock()
	idx, view := a.idx, a.view
	a.mu.Unlock()
	if idx == nil || view == nil {
		return serviceTarget{}, false
	}
	name, ok := view.names[pipeline.KindVMI][id]
	if !ok {
		return serviceTarget{}, false
	}
	return a.targetOf(idx, name, id)
}

func (a *Agent) targetOf(idx *model.Index, name string, id uint32) (serviceTarget, bool) {
	v := idx.VMIs[name]
	if v == nil {
		return serviceTarget{}, false
	}
	vn := idx.VNs[v.Network]
	mac, err := net.ParseMAC(v.MAC)
	if err != nil || vn == nil {
		return serviceTarget{}, false
	}
	router, _ := net.ParseMAC(model.RouterMAC)
	t := serviceTarget{id: id, vni: vn.VNI, ifc: netsvc.Interface{MAC: mac, RouterMAC: router, MTU: plainMTU}}
	if a.conf.TunnelIP != "" {
		t.ifc.MTU = overlayMTU
	}
	for _, s := range pipeline.ServiceSubnets(idx, v) {
		gw, hasGW := idx.Gateway(vn, s.Subnet)
		var dns []netip.Addr
		for _, d := range s.DNSServers {
			if a, err := netip.ParseAddr(d); err == nil {
				dns = append(dns, a)
			}
		}
		if s.Address.Is4() {
			if t.ifc.IPv4.IsValid() || !s.DHCPEnabled() {
				continue
			}
			t.ifc.IPv4 = netip.PrefixFrom(s.Address, s.Prefix.Bits())
			if hasGW {
				t.ifc.Gateway4 = gw
			}
			t.ifc.DNS4, t.ifc.Domain = dns, s.DomainName
			continue
		}
		t.ifc.IPv6 = append(t.ifc.IPv6, netip.PrefixFrom(s.Address, s.Prefix.Bits()))
		if hasGW {
			t.ifc.Gateway6 = append(t.ifc.Gateway6, gw)
		}
		if s.DHCPEnabled() {
			t.ra = true
			t.ifc.DNS6 = append(t.ifc.DNS6, dns...)
			if t.ifc.Domain == "" {
				t.ifc.Domain = s.DomainName
			}
		}
	}
	return t, t.ifc.Check() == nil
}

// answer serves one packet-in.
func (a *Agent) answer(ctx context.Context, conn *openflow.Conn, pi openflow.PacketIn) {
	outcome, reply := netsvc.Ignored, []byte(nil)
	t, ok := a.target(pi.Reg(0))
	if ok && len(pi.Userdata) == 1 {
		switch pi.Userdata[0] {
		case pipeline.ServiceDHCPv4:
			reply, outcome, _ = netsvc.ServeDHCPv4(pi.Data, t.ifc)
		case pipeline.ServiceICMPv6:
			reply, outcome, _ = netsvc.ServeICMPv6(pi.Data, t.ifc)
		}
	}
	a.svc.mu.Lock()
	a.svc.counters.Add(outcome)
	a.svc.mu.Unlock()
	if reply != nil {
		a.sendTo(ctx, conn, t, reply)
	}
}

// sendTo sends a frame to a VMI through the output table, as if from no VMI.
func (a *Agent) sendTo(ctx context.Context, conn *openflow.Conn, t serviceTarget, frame []byte) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := conn.SendPackets(ctx, openflow.PacketOut{Data: frame, Actions: []openflow.Action{
		openflow.SetUint(pipeline.RegDstVMI, uint64(t.id)),
		openflow.SetUint(pipeline.RegSrcVMI, 0),
		openflow.SetUint(pipeline.RegVN, uint64(t.vni)),
		openflow.Resubmit{Table: pipeline.TableOutput},
	}})
	if err != nil {
		a.svc.mu.Lock()
		a.svc.errors++
		a.svc.mu.Unlock()
		log.WithError(err).Debug("cannot send a service reply")
	}
}

// advertise sends a router advertisement to every VMI bound here with SLAAC.
func (a *Agent) advertise(ctx context.Context, conn *openflow.Conn) {
	a.mu.Lock()
	idx, view := a.idx, a.view
	a.mu.Unlock()
	if idx == nil || view == nil {
		return
	}
	ids := map[string]uint32{}
	for id, name := range view.names[pipeline.KindVMI] {
		ids[name] = id
	}
	for _, b := range view.bindings {
		if !b.Bound || b.Kind == pipeline.BindingPeer || b.Standby {
			continue
		}
		t, ok := a.targetOf(idx, b.VMI, ids[b.VMI])
		if !ok || !t.ra {
			continue
		}
		if ra, err := netsvc.RouterAdvertisement(t.ifc); err == nil {
			a.sendTo(ctx, conn, t, ra)
		}
	}
}

// servicesStatus reads the services' counters, the packet-in queue's and the meters' (I/O: the
// caller holds no lock).
func (a *Agent) servicesStatus(ctx context.Context, conn flowSession) *control.ServicesStatus {
	s := &control.ServicesStatus{}
	a.svc.mu.Lock()
	s.Outcomes = a.svc.counters.Map()
	s.SendErrors = a.svc.errors
	a.svc.mu.Unlock()
	c, ok := conn.(*openflow.Conn)
	if !ok {
		return s
	}
	st := c.PacketInStats()
	s.PacketIns, s.PacketInsDropped = st.Received, st.Dropped
	stats, err := c.DumpMeterStats(ctx)
	if err != nil {
		return s
	}
	for _, m := range stats {
		switch {
		case m.ID == pipeline.SharedMeterID:
			s.SharedMeterDrops = m.Dropped()
		case m.ID <= pipeline.MaxVMIMeterID:
			s.Meters++
			s.VMIMeterDrops += m.Dropped()
			if m.Dropped() > 0 {
				s.FloodingVMIs++
			}
		}
	}
	return s
}
