package agent

import (
	"context"
	"encoding/json"
	"os"
	"strings"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// configSource is where the gateway config comes from: a file, or the shared config DB.
type configSource interface {
	// Raw returns the config's text, which tells whether it changed; reading it is cheap
	// next to parsing it, which only a change needs.
	Raw() ([]byte, error)
	// Parse turns text Raw returned into a config, not yet validated.
	Parse(raw []byte) (*model.Config, error)
	// Changed fires when the source may have changed; nil when it must be polled.
	Changed() <-chan struct{}
	String() string
}

type fileSource struct{ path string }

func (f fileSource) Raw() ([]byte, error)                    { return os.ReadFile(f.path) }
func (f fileSource) Parse(raw []byte) (*model.Config, error) { return model.Parse(raw) }

func (f fileSource) Changed() <-chan struct{} { return nil }
func (f fileSource) String() string           { return f.path }

type dbSource struct {
	db        *configdb.Client
	endpoints []string
}

func (d dbSource) Raw() ([]byte, error) {
	c, err := d.db.Config()
	if err != nil {
		return nil, err
	}
	return json.Marshal(c) // canonical: Config returns objects in a fixed order
}

func (d dbSource) Parse(raw []byte) (*model.Config, error) {
	var c model.Config
	return &c, json.Unmarshal(raw, &c)
}

func (d dbSource) Changed() <-chan struct{} { return d.db.Changed() }
func (d dbSource) String() string           { return "config DB " + strings.Join(d.endpoints, ",") }

// connectConfigDB reaches the config DB cluster, retrying until ctx ends.
func connectConfigDB(ctx context.Context, endpoints []string) (*configdb.Client, error) {
	return configdb.Connect(ctx, endpoints)
}
