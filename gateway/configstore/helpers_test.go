package configstore

import (
	"context"
	"testing"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/configdbtest"
)

// testClient is a config DB client with a Store of its config, as the agent
// has one: the Store's methods, and the client's for the rest.
type testClient struct {
	*configdb.Client
	store *Store
}

func newTestClient(c *configdb.Client) *testClient { return &testClient{Client: c, store: New(c)} }

func (c *testClient) Config() (*model.Config, error) { return c.store.Config() }
func (c *testClient) ConfigWithGeneration() (*model.Config, int, error) {
	return c.store.ConfigWithGeneration()
}
func (c *testClient) View() (*View, error) { return c.store.View() }
func (c *testClient) Apply(ctx context.Context, cfg *model.Config, dryRun bool) (*configdb.Summary, error) {
	return c.store.Apply(ctx, cfg, dryRun)
}

func (c *testClient) ApplyValidated(ctx context.Context, cfg *model.Config, dryRun bool) (*configdb.Summary, error) {
	return c.store.ApplyValidated(ctx, cfg, dryRun)
}

// connectTo connects a client to endpoints, closed when the test ends.
func connectTo(t testing.TB, endpoints []string, opts ...configdb.Option) *testClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), configdbtest.ServerReady)
	defer cancel()
	c, err := configdb.Connect(ctx, endpoints, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return newTestClient(c)
}

func newStandalone(t testing.TB) *configdbtest.Server {
	return configdbtest.NewStandalone(t, schemaFile)
}

func newCluster(t testing.TB, n int) configdbtest.Cluster {
	return configdbtest.NewCluster(t, schemaFile, n)
}
