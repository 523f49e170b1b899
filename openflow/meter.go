package openflow

// Meters (OpenFlow 1.3 section 5.7): rate limiters a flow's packets pass through with a
// MeterAction, or a Controller action's packet-ins with its MeterID. The userspace datapath
// of OVS 3.1 implements them (max_meter 262144, drop bands only, kbps and pktps, burst,
// stats: `ovs-ofctl -O OpenFlow13 meter-features`).
//
// Rate-limiting packet-ins, which is what ovsgw uses meters for: one meter shared by every
// instance lets one instance's flood (a DHCP DISCOVER loop) use up the whole rate, so the
// others' requests are dropped with it and starve. A meter per instance (PacketRateMeter
// with the instance's own id, on the flows that send that instance's packets to the agent)
// confines a flood to the instance that sends it: the others keep their full rate. A second,
// shared meter on the Controller action (its MeterID) bounds the sum, so that many instances
// flooding at once cannot outrun the agent either; as long as rate × flooding instances stays
// under that bound, no one starves. The meters' stats tell the status which instance floods.

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	"antrea.io/libOpenflow/openflow13"
	"antrea.io/libOpenflow/util"
)

// MeterFlags are a meter's ofp_meter_flags.
type MeterFlags uint16

// Meter flags.
const (
	MeterKbps      MeterFlags = 1 // rates in kilobits per second
	MeterPktps     MeterFlags = 2 // rates in packets per second
	MeterBurst     MeterFlags = 4 // bands' burst sizes apply
	MeterKeepStats MeterFlags = 8 // the switch keeps stats
)

// MeterBandType is a band's ofp_meter_band_type.
type MeterBandType uint16

// Band types: the userspace datapath implements only drop.
const (
	MeterBandDrop         MeterBandType = 1
	MeterBandDSCPRemark   MeterBandType = 2
	MeterBandExperimenter MeterBandType = 0xffff
)

// MeterBand acts on the packets above Rate (in the meter's unit), allowing bursts of Burst.
type MeterBand struct {
	Type      MeterBandType
	Rate      uint32
	Burst     uint32
	PrecLevel uint8 // DSCP remark bands only
}

// Meter is one meter entry.
type Meter struct {
	ID    uint32 // 1 .. MaxMeterID
	Flags MeterFlags
	Bands []MeterBand
}

// MaxMeterID is the highest id of a regular meter (OFPM_MAX); those above are special.
const MaxMeterID = 0xffff0000

// PacketRateMeter is a meter that drops packets above rate packets per second, after a burst
// of burst packets, and keeps stats.
func PacketRateMeter(id, rate, burst uint32) Meter {
	return Meter{ID: id, Flags: MeterPktps | MeterBurst | MeterKeepStats,
		Bands: []MeterBand{{Type: MeterBandDrop, Rate: rate, Burst: burst}}}
}

// String prints the meter as `ovs-ofctl -O OpenFlow13 add-meter` reads it.
func (m Meter) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "meter=%d", m.ID)
	for _, f := range []struct {
		flag MeterFlags
		name string
	}{{MeterKbps, "kbps"}, {MeterPktps, "pktps"}, {MeterBurst, "burst"}, {MeterKeepStats, "stats"}} {
		if m.Flags&f.flag != 0 {
			b.WriteString("," + f.name)
		}
	}
	if rest := m.Flags &^ (MeterKbps | MeterPktps | MeterBurst | MeterKeepStats); rest != 0 {
		fmt.Fprintf(&b, ",flags=%#x", uint16(rest))
	}
	b.WriteString(",bands=")
	for i, band := range m.Bands {
		if i > 0 {
			b.WriteString(",")
		}
		switch band.Type {
		case MeterBandDrop:
			b.WriteString("type=drop")
		case MeterBandDSCPRemark:
			fmt.Fprintf(&b, "type=dscp_remark,prec_level=%d", band.PrecLevel)
		default:
			fmt.Fprintf(&b, "type=%d", uint16(band.Type))
		}
		fmt.Fprintf(&b, ",rate=%d,burst_size=%d", band.Rate, band.Burst)
	}
	return b.String()
}

// Equal reports whether two meters are the same entry.
// (What String prints, compared field by field: the agent compares every meter it wants
// before each sync.)
func (m Meter) Equal(o Meter) bool {
	if m.ID != o.ID || m.Flags != o.Flags || len(m.Bands) != len(o.Bands) {
		return false
	}
	for i, a := range m.Bands {
		b := o.Bands[i]
		if a.Type != b.Type || a.Rate != b.Rate || a.Burst != b.Burst ||
			(a.Type == MeterBandDSCPRemark && a.PrecLevel != b.PrecLevel) {
			return false
		}
	}
	return true
}

// MeterCommand is what a MeterMod does.
type MeterCommand uint8

const (
	// MeterAdd creates the meter; it fails if the id exists.
	MeterAdd MeterCommand = iota
	// MeterModify replaces the flags and bands of an existing meter, keeping the flows that
	// use it.
	MeterModify
	// MeterDelete removes the meter; the switch also removes every flow that uses it.
	MeterDelete
)

func (c MeterCommand) String() string {
	switch c {
	case MeterAdd:
		return "add"
	case MeterModify:
		return "modify"
	case MeterDelete:
		return "delete"
	}
	return fmt.Sprintf("meter-command-%d", uint8(c))
}

// MeterMod adds, modifies or deletes one meter.
type MeterMod struct {
	Command MeterCommand
	Meter   Meter
}

func (m MeterMod) String() string { return m.Command.String() + " meter " + m.Meter.String() }

// ofpMeterBandLen is the size of a drop or DSCP remark band.
const ofpMeterBandLen = 16

// encodeMeterMod builds the OFPT_METER_MOD message (xid 0).
func encodeMeterMod(m MeterMod) (rawMessage, error) {
	if m.Meter.ID == 0 || m.Meter.ID > MaxMeterID {
		return nil, fmt.Errorf("%s: meter id is 1 to %d", m, uint32(MaxMeterID))
	}
	b := make([]byte, 16, 16+ofpMeterBandLen*len(m.Meter.Bands))
	b[0], b[1] = openflow13.VERSION, openflow13.Type_MeterMod
	cmd := map[MeterCommand]uint16{MeterAdd: 0, MeterModify: 1, MeterDelete: 2} // OFPMC_*
	c, ok := cmd[m.Command]
	if !ok {
		return nil, fmt.Errorf("%s: unknown meter command", m)
	}
	binary.BigEndian.PutUint16(b[8:], c)
	binary.BigEndian.PutUint32(b[12:], m.Meter.ID)
	if m.Command != MeterDelete {
		binary.BigEndian.PutUint16(b[10:], uint16(m.Meter.Flags))
		if m.Meter.Flags&(MeterKbps|MeterPktps) == 0 {
			return nil, fmt.Errorf("%s: a meter's rates are kbps or pktps", m)
		}
		if len(m.Meter.Bands) == 0 {
			return nil, fmt.Errorf("%s: a meter has at least one band", m)
		}
		for _, band := range m.Meter.Bands {
			if band.Type != MeterBandDrop && band.Type != MeterBandDSCPRemark {
				return nil, fmt.Errorf("%s: band type %d cannot be encoded (drop or dscp_remark)", m, band.Type)
			}
			if band.Rate == 0 {
				return nil, fmt.Errorf("%s: a band's rate is at least 1", m)
			}
			bb := make([]byte, ofpMeterBandLen)
			binary.BigEndian.PutUint16(bb[0:], uint16(band.Type))
			binary.BigEndian.PutUint16(bb[2:], ofpMeterBandLen)
			binary.BigEndian.PutUint32(bb[4:], band.Rate)
			binary.BigEndian.PutUint32(bb[8:], band.Burst)
			if band.Type == MeterBandDSCPRemark {
				bb[12] = band.PrecLevel
			}
			b = append(b, bb...)
		}
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b, nil
}

// ModMeters sends meter mods in order, followed by a barrier, and returns when the switch has
// processed them; each refusal is an error naming its mod (the other mods still took effect).
// Meter mods cannot go into Apply's bundle (OVS 3.1 refuses them there, OFPBFC_MSG_UNSUP):
// add a meter before the bundle whose flows use it, delete it after the one that removes them.
func (c *Conn) ModMeters(ctx context.Context, mods ...MeterMod) error {
	if len(mods) == 0 {
		return nil
	}
	msgs := make([]rawMessage, len(mods))
	for i, m := range mods {
		b, err := encodeMeterMod(m)
		if err != nil {
			return err
		}
		msgs[i] = b
	}
	xids := make([]uint32, len(mods)+1)
	out := make([]util.Message, len(mods)+1)
	for i, m := range msgs {
		xids[i] = c.nextXID()
		out[i] = m.util(xids[i])
	}
	barrier := newHeader(openflow13.Type_BarrierRequest)
	barrier.Xid = c.nextXID()
	xids[len(mods)], out[len(mods)] = barrier.Xid, &barrier
	return c.exchange(ctx, xids, out, func(i int, e *OFError) error {
		if i < len(mods) {
			return &ChangeError{Change: mods[i], Err: e}
		}
		return fmt.Errorf("barrier: %w", e)
	})
}

// message makes MeterMod a Change, so that a ChangeError can name it; Apply refuses it.
func (m MeterMod) message(uint32) (util.Message, error) {
	return nil, fmt.Errorf("%s: meter mods cannot be bundled; use ModMeters", m)
}

// MeterBandStats counts the packets and bytes one band acted on (for a drop band: dropped).
type MeterBandStats struct {
	Packets, Bytes uint64
}

// MeterStats is one meter's counters.
type MeterStats struct {
	ID       uint32
	Flows    uint32 // flows using the meter
	Packets  uint64 // packets that entered the meter
	Bytes    uint64
	Duration time.Duration
	Bands    []MeterBandStats
}

// Dropped is the number of packets the meter's drop bands dropped.
func (s MeterStats) Dropped() uint64 {
	var n uint64
	for _, b := range s.Bands {
		n += b.Packets
	}
	return n
}

// meterRequest is the body of a meter stats or config request for id (OFPM_ALL: all).
func meterRequest(id uint32) util.Message {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, id)
	return util.NewBuffer(b)
}

const ofpmAll = 0xffffffff // OFPM_ALL

// DumpMeterStats reads the counters of every meter, sorted by id.
func (c *Conn) DumpMeterStats(ctx context.Context) ([]MeterStats, error) {
	stats, err := dumpRecords(ctx, c, openflow13.MultipartType_Meter, meterRequest(ofpmAll), decodeMeterStats)
	if err != nil {
		return nil, fmt.Errorf("dump meter stats: %w", err)
	}
	sort.Slice(stats, func(i, j int) bool { return stats[i].ID < stats[j].ID })
	return stats, nil
}

// DumpMeters reads every meter's configuration, sorted by id.
func (c *Conn) DumpMeters(ctx context.Context) ([]Meter, error) {
	meters, err := dumpRecords(ctx, c, openflow13.MultipartType_MeterConfig, meterRequest(ofpmAll), decodeMeterConfig)
	if err != nil {
		return nil, fmt.Errorf("dump meters: %w", err)
	}
	sort.Slice(meters, func(i, j int) bool { return meters[i].ID < meters[j].ID })
	return meters, nil
}

// ofpMeterStatsLen is ofp_meter_stats before its band stats.
const ofpMeterStatsLen = 40

// decodeMeterStats reads one ofp_meter_stats record; n is its length.
func decodeMeterStats(b []byte) (s MeterStats, n int, err error) {
	if len(b) < ofpMeterStatsLen {
		return s, 0, errTruncated
	}
	n = int(be16(b[4:]))
	if n < ofpMeterStatsLen || n > len(b) || (n-ofpMeterStatsLen)%16 != 0 {
		return s, 0, errTruncated
	}
	s.ID, s.Flows = be32(b), be32(b[12:])
	s.Packets, s.Bytes = be64(b[16:]), be64(b[24:])
	s.Duration = secNsec(be32(b[32:]), be32(b[36:]))
	for p := ofpMeterStatsLen; p < n; p += 16 {
		s.Bands = append(s.Bands, MeterBandStats{Packets: be64(b[p:]), Bytes: be64(b[p+8:])})
	}
	return s, n, nil
}

// decodeMeterConfig reads one ofp_meter_config record; n is its length.
func decodeMeterConfig(b []byte) (m Meter, n int, err error) {
	if len(b) < 8 {
		return m, 0, errTruncated
	}
	n = int(be16(b))
	if n < 8 || n > len(b) {
		return m, 0, errTruncated
	}
	m.Flags, m.ID = MeterFlags(be16(b[2:])), be32(b[4:])
	for p := 8; p < n; {
		if p+12 > n {
			return m, 0, errTruncated
		}
		l := int(be16(b[p+2:]))
		if l < 12 || p+l > n {
			return m, 0, errTruncated
		}
		band := MeterBand{Type: MeterBandType(be16(b[p:])), Rate: be32(b[p+4:]), Burst: be32(b[p+8:])}
		if band.Type == MeterBandDSCPRemark && l >= 13 {
			band.PrecLevel = b[p+12]
		}
		m.Bands = append(m.Bands, band)
		p += l
	}
	return m, n, nil
}
