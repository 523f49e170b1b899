package vtep

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Names ovsgw writes into a switch's database (its ownership marks, see the package doc).
const (
	// NamePrefix starts the name of every logical switch ovsgw owns: "ovsgw-<VNI>".
	NamePrefix = "ovsgw-"
	// DescriptionPrefix starts the description of every logical switch ovsgw owns.
	DescriptionPrefix = "ovsgw: "
	// UnknownDst is the Mcast_Macs_Remote MAC that stands for every unknown destination
	// (broadcast, unknown unicast and multicast), from vtep(5); the only multicast MAC ovs-vtep
	// supports.
	UnknownDst = "unknown-dst"
	// encapVXLAN is the one encapsulation type of the schema's Physical_Locator.
	encapVXLAN = "vxlan_over_ipv4"
)

// LogicalSwitchName is the name of ovsgw's logical switch for a VNI.
func LogicalSwitchName(vni uint32) string { return fmt.Sprintf("%s%d", NamePrefix, vni) }

// description is the description of ovsgw's logical switch of a virtual network.
func description(network string) string { return DescriptionPrefix + "virtual network " + network }

// Desired is what ovsgw wants in one switch's database. Everything else ovsgw owns there goes.
type Desired struct {
	LogicalSwitches []LogicalSwitch
	Bindings        []Binding
	RemoteMACs      []RemoteMAC
}

// LogicalSwitch is one virtual network on the switch: a Logical_Switch with tunnel_key = VNI.
type LogicalSwitch struct {
	VNI     uint32
	Network string // the VN's name, shown in the row's description
	// Flood are the tunnel endpoints of the Mcast_Macs_Remote unknown-dst row: where the switch
	// sends the VN's broadcast, unknown unicast and multicast (the replication node). None: no row.
	Flood []netip.Addr
}

// Binding puts VLAN of the switch's port Port into the logical switch of VNI (vlan_bindings).
// VLAN 0 stands for untagged frames.
type Binding struct {
	Port string
	VLAN int
	VNI  uint32
}

// RemoteMAC is a MAC the switch reaches through a VXLAN tunnel to Locator (Ucast_Macs_Remote).
type RemoteMAC struct {
	VNI     uint32
	MAC     string
	IP      netip.Addr // optional (the row's ipaddr, for ARP suppression)
	Locator netip.Addr // the tunnel endpoint: the node where the MAC lives
}

// LocalMAC is a MAC the switch learned on one of its ports (Ucast_Macs_Local), in a logical
// switch of ovsgw.
type LocalMAC struct {
	LogicalSwitch string `json:"logicalSwitch"`
	VNI           uint32 `json:"vni"`
	MAC           string `json:"mac"`
	IP            string `json:"ip,omitempty"`
	// Locator is the tunnel endpoint the switch gives for it: its own tunnel IP.
	Locator string `json:"locator"`
}

// Change is one row a sync inserts, updates or deletes.
type Change struct {
	Op     string   // "insert", "update", "delete"; "bind"/"unbind" for a vlan_bindings entry
	Table  string   // the table
	Key    string   // the row, readably: "ovsgw-5001 02:00:00:00:02:01", "p1 vlan 100"
	Fields []string // an update's changed columns
}

func (c Change) String() string {
	s := c.Op + " " + c.Table + " " + c.Key
	if len(c.Fields) > 0 {
		s += " (" + strings.Join(c.Fields, ", ") + ")"
	}
	return s
}

// Result is what a Sync did.
type Result struct {
	// Changes are the row changes of the one transaction sent; none when nothing differed.
	Changes []Change
	// Problems are parts of Desired that could not be programmed, each saying why (a port the
	// switch does not have, a name or VLAN someone else's row holds); the rest was synced.
	Problems []string
}

// Empty reports whether the sync changed nothing.
func (r *Result) Empty() bool { return len(r.Changes) == 0 }

// Counts adds up the changes per operation and table, "insert Ucast_Macs_Remote" → n.
func (r *Result) Counts() map[string]int {
	out := map[string]int{}
	for _, c := range r.Changes {
		out[c.Op+" "+c.Table]++
	}
	return out
}

// Status is what `ovsgw status` shows of one switch.
type Status struct {
	Name      string `json:"name"`     // the Physical_Switch (the config's torSwitches[].name)
	Endpoint  string `json:"endpoint"` // its OVSDB endpoint
	Connected bool   `json:"connected"`
	// ConnectError says why the client is not connected: the last attempt's error (a TLS file
	// that cannot be used, a refused certificate, the switch not answering).
	ConnectError string `json:"connectError,omitempty"`
	// InSync: ovsgw's rows equal what the last sync wanted, and all of it could be programmed
	// (no problems). False before the first sync.
	InSync bool `json:"inSync"`
	// Rows counts ovsgw's rows in the switch's database now.
	Rows RowCounts `json:"rows"`
	// MACsLearned counts the switch's Ucast_Macs_Local rows in ovsgw's logical switches.
	MACsLearned   int        `json:"macsLearned"`
	TunnelIPs     []string   `json:"tunnelIPs,omitempty"`
	LastSync      *time.Time `json:"lastSync,omitempty"`
	LastSyncError string     `json:"lastSyncError,omitempty"`
	Problems      []string   `json:"problems,omitempty"`
}

// RowCounts counts ovsgw's rows of each kind in a switch's database.
type RowCounts struct {
	LogicalSwitches int `json:"logicalSwitches"`
	Bindings        int `json:"bindings"`
	RemoteMACs      int `json:"remoteMACs"`
	FloodEntries    int `json:"floodEntries"` // Mcast_Macs_Remote rows
}
