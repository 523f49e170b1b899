package openflow

import "testing"

// The switch itself filters a flow dump by cookie and mask: only the matching flows come back.
func TestDumpFlowsByCookieFiltersAtTheSwitch(t *testing.T) {
	node, c := newSwitch(t)
	for _, f := range []string{
		"cookie=0x6f67000500000001,table=0,priority=10,in_port=1 actions=drop",
		"cookie=0x6f67000500000002,table=3,priority=10,in_port=2 actions=drop",
		"cookie=0x6f67000000000001,table=0,priority=20,in_port=1 actions=output:2",
		"cookie=0x6f67000400000001,table=0,priority=30,in_port=1 actions=drop",
		"cookie=0xbad,table=0,priority=40,in_port=1 actions=drop",
	} {
		node.MustOfctl(t, "add-flow", "br0", f)
	}
	got, err := c.DumpFlowsByCookie(ctxT(t), 0x6f67000500000000, 0xffff00ff00000000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Cookie>>32 != 0x6f670005 || got[1].Cookie>>32 != 0x6f670005 {
		t.Errorf("dump by cookie 0x6f67000500000000/0xffff00ff00000000:\n%s", flowStrings(got))
	}
}
