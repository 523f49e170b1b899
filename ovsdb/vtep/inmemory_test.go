package vtep

import (
	"context"
	"crypto/tls"
	"flag"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/database"
	"github.com/ovn-kubernetes/libovsdb/model"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/ovsdb/clientkit/memdb"
	"github.com/ovsgw/ovsgw/ovsdb/ovstls/ovstlstest"
	"github.com/ovsgw/ovsgw/ovsdb/vtep/hwvtep"
)

// schemaFile is the schema the installed Open vSwitch ships (openvswitch-common); tests load it
// at run time so that they exercise the schema a switch serves.
const schemaFile = "/usr/share/openvswitch/vtep.ovsschema"

// testWait bounds every wait for an asynchronous effect in these tests.
const testWait = 10 * time.Second

// switchName and switchTunnelIP are the switch the in-memory database stands for.
const (
	switchName     = "tor1"
	switchTunnelIP = "192.0.2.100"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Verbose() {
		logrus.SetLevel(logrus.WarnLevel)
	}
	code := m.Run()
	ovstlstest.RemoveShared()
	os.Exit(code)
}

// memSwitch is libovsdb's in-memory server with the hardware_vtep schema, plus an independent
// client ("peer") standing for the switch itself and for every other writer of its database.
type memSwitch struct {
	t        *testing.T
	db       database.Database
	schema   libovsdb.DatabaseSchema
	sock     string // the switch's socket, through the proxy
	endpoint string
	proxy    *proxy
	peer     client.Client // connected to the server directly, never cut
}

func newMemSwitch(t *testing.T) *memSwitch {
	t.Helper()
	full, err := hwvtep.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	srv := memdb.Start(t, memdb.DB{Schema: memdb.ReadSchema(t, schemaFile, nil), Model: full})
	m := &memSwitch{t: t, db: srv.DB, schema: srv.Schema, sock: filepath.Join(srv.Dir, "switch.sock"),
		proxy: &proxy{dial: func() (net.Conn, error) { return net.Dial("unix", srv.Sock) }}}
	m.endpoint = "unix:" + m.sock
	m.start()
	t.Cleanup(m.stop)

	m.peer = srv.Peer(t)
	if _, err := m.peer.MonitorAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	// What `vtep-ctl add-ps tor1` and the switch itself create: the root row, the switch, its
	// ports, its tunnel IP.
	m.peerCreate([]model.Model{
		&hwvtep.PhysicalPort{UUID: "p1", Name: "p1"},
		&hwvtep.PhysicalPort{UUID: "p2", Name: "p2"},
		&hwvtep.PhysicalPort{UUID: "p3", Name: "p3"},
		&hwvtep.PhysicalSwitch{UUID: "ps", Name: switchName, Ports: []string{"p1", "p2", "p3"}, TunnelIPs: []string{switchTunnelIP}},
		&hwvtep.Global{Switches: []string{"ps"}},
	})
	return m
}

// start opens the switch's socket (again, after stop). The in-memory server keeps running behind
// a proxy, so the rows keep their UUIDs, as with an ovsdb-server restarted on its database file.
func (m *memSwitch) start() {
	m.t.Helper()
	if err := m.proxy.listen("unix", m.sock); err != nil {
		m.t.Fatal(err)
	}
}

// stop closes the switch's socket and every connection through it, as a stopped ovsdb-server.
func (m *memSwitch) stop() { m.proxy.close() }

func (m *memSwitch) connect() *Client {
	m.t.Helper()
	c, err := New(Options{Endpoint: m.endpoint, Switch: switchName})
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		m.t.Fatal(err)
	}
	return c
}

func (m *memSwitch) peerTransact(ops []libovsdb.Operation) {
	m.t.Helper()
	memdb.Transact(m.t, m.peer, ops)
}

// peerCreate inserts rows in one transaction, followed by extra operations.
func (m *memSwitch) peerCreate(rows []model.Model, extra ...libovsdb.Operation) {
	m.t.Helper()
	memdb.Create(m.t, m.peer, rows, extra...)
}

// rows reads every table on the server side, table → UUID → row, so assertions never depend on
// a client cache.
func (m *memSwitch) rows() map[string]map[string]model.Model {
	m.t.Helper()
	out := map[string]map[string]model.Model{}
	for table := range m.schema.Tables {
		all, err := m.db.List(DatabaseName, table)
		if err != nil {
			m.t.Fatal(err)
		}
		out[table] = all
	}
	return out
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	memdb.WaitUntil(t, testWait, what, cond)
}

func doSync(t *testing.T, c *Client, d Desired) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	res, err := c.Sync(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// Tunnel IPs of the nodes in these tests.
const (
	gw1 = "10.0.0.1" // the replication node, and where bms1 (a remote instance) lives
	c1  = "10.0.0.2"
	c2  = "10.0.0.3"
)

// desiredBase: VN blue (5001) bound on p1 VLAN 100, red (5002) on p2 VLAN 200, both flooding
// to gw1; three VMIs on three nodes.
func desiredBase() Desired {
	return Desired{
		LogicalSwitches: []LogicalSwitch{
			{VNI: 5001, Network: "blue", Flood: []netip.Addr{ip(gw1)}},
			{VNI: 5002, Network: "red", Flood: []netip.Addr{ip(gw1)}},
		},
		Bindings: []Binding{{Port: "p1", VLAN: 100, VNI: 5001}, {Port: "p2", VLAN: 200, VNI: 5002}},
		RemoteMACs: []RemoteMAC{
			{VNI: 5001, MAC: "02:00:00:00:02:01", IP: ip("10.1.0.21"), Locator: ip(c1)},
			{VNI: 5001, MAC: "02:00:00:00:01:0A", IP: ip("10.1.0.10"), Locator: ip(gw1)}, // upper case on purpose
			{VNI: 5002, MAC: "02:00:00:00:02:03", IP: ip("10.1.0.31"), Locator: ip(c2)},
		},
	}
}

// view is the switch's database as vtep-ctl would print it: what ovsgw's rows mean, by name.
type view struct {
	Switches map[string]string   // name → description | tunnel_key
	Bindings map[string]string   // "port vlan" → logical switch name
	Ucast    map[string]string   // "ls MAC" → "ip locator"
	Mcast    map[string][]string // "ls MAC" → locator IPs
	Locators map[string]bool     // every locator's IP
	rows     map[string]map[string]model.Model
}

func (m *memSwitch) view() *view {
	m.t.Helper()
	rows := m.rows()
	v := &view{Switches: map[string]string{}, Bindings: map[string]string{}, Ucast: map[string]string{},
		Mcast: map[string][]string{}, Locators: map[string]bool{}, rows: rows}
	lsName := func(u string) string { return rows[hwvtep.LogicalSwitchTable][u].(*hwvtep.LogicalSwitch).Name }
	locIP := func(u string) string { return rows[hwvtep.PhysicalLocatorTable][u].(*hwvtep.PhysicalLocator).DstIP }
	for _, r := range rows[hwvtep.LogicalSwitchTable] {
		ls := r.(*hwvtep.LogicalSwitch)
		key := "-"
		if ls.TunnelKey != nil {
			key = itoa(*ls.TunnelKey)
		}
		v.Switches[ls.Name] = ls.Description + " | " + key
	}
	for _, r := range rows[hwvtep.PhysicalPortTable] {
		p := r.(*hwvtep.PhysicalPort)
		for vlan, u := range p.VLANBindings {
			v.Bindings[p.Name+" "+itoa(vlan)] = lsName(u)
		}
	}
	for _, r := range rows[hwvtep.UcastMacsRemoteTable] {
		u := r.(*hwvtep.UcastMacsRemote)
		v.Ucast[lsName(u.LogicalSwitch)+" "+u.MAC] = u.Ipaddr + " " + locIP(u.Locator)
	}
	for _, r := range rows[hwvtep.McastMacsRemoteTable] {
		u := r.(*hwvtep.McastMacsRemote)
		set := rows[hwvtep.PhysicalLocatorSetTable][u.LocatorSet].(*hwvtep.PhysicalLocatorSet)
		var ips []string
		for _, l := range set.Locators {
			ips = append(ips, locIP(l))
		}
		v.Mcast[lsName(u.LogicalSwitch)+" "+u.MAC] = ips
	}
	for _, r := range rows[hwvtep.PhysicalLocatorTable] {
		v.Locators[r.(*hwvtep.PhysicalLocator).DstIP] = true
	}
	return v
}

func itoa(i int) string { return strconv.Itoa(i) }

// foreignRows are every row ovsgw does not own, by table and UUID; for a Physical_Port, the row
// with only its entries that point at others' logical switches.
func foreignRows(rows map[string]map[string]model.Model) map[string]map[string]any {
	ls := rows[hwvtep.LogicalSwitchTable]
	ours := func(u string) bool {
		r, ok := ls[u]
		return ok && owned(r.(*hwvtep.LogicalSwitch))
	}
	out := map[string]map[string]any{}
	add := func(table, u string, r any) {
		if out[table] == nil {
			out[table] = map[string]any{}
		}
		out[table][u] = r
	}
	for table, all := range rows {
		for u, r := range all {
			switch x := r.(type) {
			case *hwvtep.LogicalSwitch:
				if !owned(x) {
					add(table, u, x)
				}
			case *hwvtep.UcastMacsRemote:
				if !ours(x.LogicalSwitch) {
					add(table, u, x)
				}
			case *hwvtep.McastMacsRemote:
				if !ours(x.LogicalSwitch) {
					add(table, u, x)
				}
			case *hwvtep.UcastMacsLocal, *hwvtep.McastMacsLocal, *hwvtep.PhysicalLocator, *hwvtep.PhysicalLocatorSet:
				// The switch's and shared rows: checked by the tests that care, as removing an
				// owned logical switch legitimately takes its local MACs, and unused locators go.
			case *hwvtep.PhysicalPort:
				p := *x
				p.VLANBindings = map[int]string{}
				for vlan, l := range x.VLANBindings {
					if !ours(l) {
						p.VLANBindings[vlan] = l
					}
				}
				add(table, u, &p)
			default:
				add(table, u, r)
			}
		}
	}
	return out
}

// addForeign creates what others own in the switch's database: an operator's logical switch
// "manual" (VNI 7000) bound on p3 VLAN 300 with a remote MAC at c1 (so the locator to c1 is
// shared with ovsgw's) and a flood row, and a logical router binding it; a Tunnel row of the
// switch's BFD that refers to the locator to c2.
func (m *memSwitch) addForeign() {
	m.t.Helper()
	key := 7000
	m.peerCreate([]model.Model{
		&hwvtep.PhysicalLocator{UUID: "lc1", EncapsulationType: encapVXLAN, DstIP: c1},
		&hwvtep.PhysicalLocator{UUID: "lc9", EncapsulationType: encapVXLAN, DstIP: "10.0.0.9"},
		&hwvtep.PhysicalLocator{UUID: "lc2", EncapsulationType: encapVXLAN, DstIP: c2},
		&hwvtep.PhysicalLocator{UUID: "lself", EncapsulationType: encapVXLAN, DstIP: switchTunnelIP},
		&hwvtep.PhysicalLocatorSet{UUID: "s9", Locators: []string{"lc9"}},
		&hwvtep.LogicalSwitch{UUID: "manual", Name: "manual", Description: "an operator's", TunnelKey: &key},
		&hwvtep.UcastMacsRemote{MAC: "02:aa:00:00:00:01", LogicalSwitch: "manual", Locator: "lc1", Ipaddr: "10.7.0.1"},
		&hwvtep.McastMacsRemote{MAC: UnknownDst, LogicalSwitch: "manual", LocatorSet: "s9"},
		&hwvtep.LogicalRouter{Name: "lr1", SwitchBinding: map[string]string{"10.7.0.0/24": "manual"}},
		&hwvtep.Tunnel{UUID: "tun", Local: "lself", Remote: "lc2"},
	},
		m.mutateOp(&hwvtep.PhysicalPort{UUID: m.portUUID("p3")}, "VLANBindings", map[int]string{300: "manual"}),
		m.mutateOp(&hwvtep.PhysicalSwitch{UUID: m.switchUUID()}, "Tunnels", []string{"tun"}),
	)
}

func (m *memSwitch) portUUID(name string) string {
	m.t.Helper()
	for u, r := range m.rows()[hwvtep.PhysicalPortTable] {
		if r.(*hwvtep.PhysicalPort).Name == name {
			return u
		}
	}
	m.t.Fatalf("no port %s", name)
	return ""
}

func (m *memSwitch) switchUUID() string {
	for u := range m.rows()[hwvtep.PhysicalSwitchTable] {
		return u
	}
	m.t.Fatal("no switch")
	return ""
}

func (m *memSwitch) lsUUID(name string) string {
	for u, r := range m.rows()[hwvtep.LogicalSwitchTable] {
		if r.(*hwvtep.LogicalSwitch).Name == name {
			return u
		}
	}
	m.t.Fatalf("no logical switch %s", name)
	return ""
}

// mutateOp inserts value into the column of row's field (by Go field name).
func (m *memSwitch) mutateOp(row model.Model, field string, value any) libovsdb.Operation {
	m.t.Helper()
	ptr := reflect.ValueOf(row).Elem().FieldByName(field).Addr().Interface()
	ops, err := m.peer.Where(row).Mutate(row, model.Mutation{Field: ptr, Mutator: libovsdb.MutateOperationInsert, Value: value})
	if err != nil {
		m.t.Fatal(err)
	}
	return ops[0]
}

// learn makes the switch report a MAC learned in a logical switch, as ovs-vtep does
// (vtep-ctl add-ucast-local LS MAC TUNNEL_IP), reusing the switch's own locator.
func (m *memSwitch) learn(ls, mac, ipaddr string) {
	m.t.Helper()
	loc := ""
	for u, r := range m.rows()[hwvtep.PhysicalLocatorTable] {
		if r.(*hwvtep.PhysicalLocator).DstIP == switchTunnelIP {
			loc = u
		}
	}
	rows := []model.Model{}
	if loc == "" {
		loc = "lself"
		rows = append(rows, &hwvtep.PhysicalLocator{UUID: loc, EncapsulationType: encapVXLAN, DstIP: switchTunnelIP})
	}
	rows = append(rows, &hwvtep.UcastMacsLocal{MAC: mac, LogicalSwitch: m.lsUUID(ls), Locator: loc, Ipaddr: ipaddr})
	m.peerCreate(rows)
}

// proxy forwards connections to the server; close cuts them all, as a server that went away.
type proxy struct {
	dial func() (net.Conn, error)
	// tls, when set, makes the proxy's side a TLS server.
	tls *tls.Config

	mu    sync.Mutex
	ln    net.Listener
	addr  string // where it listens
	conns []net.Conn
}

func (p *proxy) listen(network, addr string) error {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	if p.tls != nil {
		ln = tls.NewListener(ln, p.tls)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := p.dial()
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close(); in.Close() }()
			go func() { _, _ = io.Copy(in, out); out.Close(); in.Close() }()
		}
	}()
	return nil
}

func (p *proxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
