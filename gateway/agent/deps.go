package agent

import (
	"context"

	"github.com/ovsgw/ovsgw/openflow"
	"github.com/ovsgw/ovsgw/ovsdb"
)

// bridgeDB is what a sync needs of the node's Open_vSwitch database (an *ovsdb.Client); small
// so that the sync can be tested against a fake.
type bridgeDB interface {
	Connected() bool
	EnsureBridge(ctx context.Context, spec ovsdb.BridgeSpec) error
	BridgeNotices(bridge string) []string
	ConfigSeq() (next, cur int)
	Interfaces(bridge string) []ovsdb.Interface
}

// flowSession is what a sync needs of the OpenFlow connection to the bridge (an
// *openflow.Conn).
type flowSession interface {
	DumpFlows(ctx context.Context, table *uint8) ([]openflow.InstalledFlow, error)
	DumpFlowsByCookie(ctx context.Context, cookie, mask uint64) ([]openflow.InstalledFlow, error)
	DumpGroups(ctx context.Context) ([]openflow.Group, error)
	DumpFlowsToGroup(ctx context.Context, id uint32) ([]openflow.InstalledFlow, error)
	Apply(ctx context.Context, changes []openflow.Change) error
	Close() error
}
