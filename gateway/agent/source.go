package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovsgw/ovsgw/gateway/configstore"
	"github.com/ovsgw/ovsgw/gateway/filesource"
	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/ovstls"
)

// configSource is where the gateway config comes from: a file or directory, or the shared
// config DB. Both deliver changes as events and re-read only what changed.
type configSource interface {
	// Load brings the source up to date (everything, with force) and returns the config in
	// force there, and whether it differs from what the last Load returned. On error the
	// previous config stays in force at the source and the error names what is wrong.
	Load(force bool) (c *model.Config, changed bool, err error)
	// Changed fires when Load may find something new.
	Changed() <-chan struct{}
	// ParseSeconds is what reading and parsing took in the last Load.
	ParseSeconds() float64
	String() string
}

// fileSource is a YAML file or a directory of them, watched with inotify.
type fileSource struct{ src *filesource.Source }

func (f fileSource) Load(force bool) (*model.Config, bool, error) {
	changed, err := f.src.Reload(force)
	return f.src.Config(), changed || force, err
}

func (f fileSource) Changed() <-chan struct{} { return f.src.Changed() }
func (f fileSource) ParseSeconds() float64    { return f.src.ParseSeconds() }
func (f fileSource) String() string           { return f.src.String() }

// dbSource is the config DB: its store keeps the config converted from the rows that changed,
// and the config generation (bumped by every apply that changes something) tells a change.
type dbSource struct {
	db        *configdb.Client
	store     *configstore.Store // of db, made by the first Load (Loads run one at a time)
	endpoints []string
	gen       int
}

func (d *dbSource) Load(force bool) (*model.Config, bool, error) {
	if d.store == nil {
		d.store = configstore.New(d.db)
	}
	c, gen, err := d.store.ConfigWithGeneration()
	if err != nil {
		return nil, false, err
	}
	changed := force || gen != d.gen
	d.gen = gen
	return c, changed, nil
}

func (d *dbSource) Changed() <-chan struct{} { return d.db.ConfigChanged() }
func (d *dbSource) ParseSeconds() float64    { return 0 }
func (d *dbSource) String() string           { return "config DB " + strings.Join(d.endpoints, ",") }

// connectConfigDB waits for the config DB's leader as long as ctx allows (over ssl: with the
// agent's TLS files when they are given; a TLS refusal ends it at once: see configdb.Connect),
// logging each round that found none and telling status why the agent waits.
func (a *Agent) connectConfigDB(ctx context.Context) (*configdb.Client, error) {
	endpoints := strings.Join(a.conf.ConfigDB, ",")
	a.setWaiting(fmt.Sprintf("waiting for the config DB at %s: connecting", endpoints))
	defer a.setWaiting("reading the config from the config DB")
	opts := []configdb.Option{configdb.OnConnectFailure(func(round int, err error, next time.Duration) {
		log.WithError(err).WithFields(logrus.Fields{"endpoints": endpoints, "attempt": round, "retryIn": next.Round(time.Millisecond)}).
			Warn("waiting for the config DB: no leader reachable yet")
		a.setWaiting(fmt.Sprintf("waiting for the config DB at %s: attempt %d failed (%v); next in %v", endpoints, round, err, next.Round(time.Millisecond)))
	})}
	if a.conf.ConfigDBTLS.Given() {
		t, err := ovstls.NewClient("config DB member", a.conf.ConfigDBTLS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, configdb.WithTLS(t))
	}
	return configdb.Connect(ctx, a.conf.ConfigDB, opts...)
}

// setWaiting says what the agent waits for before it can serve (status shows it); "" when it
// waits for nothing.
func (a *Agent) setWaiting(what string) {
	a.mu.Lock()
	a.waiting = what
	a.mu.Unlock()
}
