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
	// Read returns the config, not yet validated, and a canonical text of it that tells
	// whether it changed.
	Read() (*model.Config, []byte, error)
	// Changed fires when the source may have changed; nil when it must be polled.
	Changed() <-chan struct{}
	String() string
}

type fileSource struct{ path string }

func (f fileSource) Read() (*model.Config, []byte, error) {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, nil, err
	}
	c, err := model.Parse(data)
	return c, data, err
}

func (f fileSource) Changed() <-chan struct{} { return nil }
func (f fileSource) String() string           { return f.path }

type dbSource struct {
	db        *configdb.Client
	endpoints []string
}

func (d dbSource) Read() (*model.Config, []byte, error) {
	c, err := d.db.Config()
	if err != nil {
		return nil, nil, err
	}
	data, err := json.Marshal(c) // canonical: Config returns objects in a fixed order
	return c, data, err
}

func (d dbSource) Changed() <-chan struct{} { return d.db.Changed() }
func (d dbSource) String() string           { return "config DB " + strings.Join(d.endpoints, ",") }

// connectConfigDB reaches the config DB cluster, retrying until ctx ends.
func connectConfigDB(ctx context.Context, endpoints []string) (*configdb.Client, error) {
	return configdb.Connect(ctx, endpoints)
}
