package openflow

import (
	"reflect"
	"testing"
)

// parseSeeds are texts the fuzzers start from besides the golden files' lines.
var parseSeeds = []string{
	"cookie=0x0, table=0, priority=0 actions=drop",
	"cookie=0x1, table=0, priority=1,vlan_tci=0x1000/0x1000,ct_state=+new-est+trk,nw_src=10.0.0.0/255.0.255.0 actions=ct(commit,table=3,zone=9)",
	"cookie=0xbad, table=3, priority=7,oxm(class=0x8000,field=7,masked)=0x0303,ipv6_src=2001:db8::/ffff:0:ffff:: actions=unknown_action(type=24,raw=0018000800000000),unknown_instruction(type=5,raw=0005000800000000),goto_table:4",
	"cookie=0x2, table=7, priority=100,arp_op=1,arp_tha=00:00:00:00:00:00/ff:ff:ff:00:00:00 actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:4197->vlan_vid,set_field:fe80::1->ipv6_dst,push_vlan:0x88a8,output:4,LOCAL,CONTROLLER,IN_PORT,group:1073746825,resubmit(,60)",
	"group_id=1073746825,type=all,bucket=actions=set_field:0x2e64d1c0->reg2,resubmit(,60),bucket=actions=drop",
	"cookie=0x3, table=40, priority=1200,reg2=0x5,dl_type=0x800 actions=conjunction(7,1/2),conjunction(4294967295,64/64)",
	"cookie=0x3, table=40, priority=1200,conj_id=7,tcp6,tcp_dst=443 actions=move:NXM_NX_CONJ_ID[]->NXM_NX_REG3[],goto_table:41",
	"cookie=0x3, table=40, priority=1200,ip,nw_src=10.1.0.9 actions=conjunction( 7 , 2/2 )",
	"cookie=0x4, table=9, priority=10,udp,udp_dst=67 actions=meter:12,controller(max_len=128,userdata=64.68.63.70.34,meter_id=2)",
	"cookie=0x4, table=9, priority=9,icmp6,icmpv6_type=133 actions=controller(userdata=0102),controller(max_len=65535),controller(max_len=9)",
}

func addSeeds(f *testing.F, golden []string) {
	for _, s := range append(golden, parseSeeds...) {
		f.Add(s)
	}
}

// FuzzParseFlow: ParseFlow never panics, and what it accepts prints as text that parses back
// to the same flow and prints the same again.
func FuzzParseFlow(f *testing.F) {
	flows, _ := goldenLines(f)
	for _, fl := range testFlows() {
		flows = append(flows, fl.String())
	}
	addSeeds(f, flows)
	f.Fuzz(func(t *testing.T, text string) {
		p, err := ParseFlow(text)
		if err != nil {
			return
		}
		printed := p.String()
		again, err := ParseFlow(printed)
		if err != nil {
			t.Fatalf("ParseFlow(%q) printed %q, which does not parse: %v", text, printed, err)
		}
		if !reflect.DeepEqual(p, again) {
			t.Fatalf("ParseFlow(%q) printed %q, which parses to another flow:\n first %#v\nsecond %#v", text, printed, p, again)
		}
		if again.String() != printed {
			t.Fatalf("ParseFlow(%q) printed %q, then %q", text, printed, again.String())
		}
	})
}

// FuzzParseGroup is FuzzParseFlow for groups.
func FuzzParseGroup(f *testing.F) {
	_, groups := goldenLines(f)
	groups = append(groups, testGroup.String())
	addSeeds(f, groups)
	f.Fuzz(func(t *testing.T, text string) {
		g, err := ParseGroup(text)
		if err != nil {
			return
		}
		printed := g.String()
		again, err := ParseGroup(printed)
		if err != nil {
			t.Fatalf("ParseGroup(%q) printed %q, which does not parse: %v", text, printed, err)
		}
		if !reflect.DeepEqual(g, again) || again.String() != printed {
			t.Fatalf("ParseGroup(%q) printed %q, which parses to %q", text, printed, again)
		}
	})
}
