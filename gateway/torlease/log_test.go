package torlease

import (
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/ovsgw/ovsgw/logging"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// A line about a switch's lease names the switch as validation does (torSwitches[tor1]), in
// the object field, so that one string finds it in config errors and in the log.
func TestLeaseLogLinesNameTheSwitchAsValidationDoes(t *testing.T) {
	hook := logtest.NewGlobal()
	t.Cleanup(func() { logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{}) })
	connect := server(t)
	db := connect()
	if err := db.PublishNode(t.Context(), configdb.NodeState{Hostname: "gw1"}); err != nil {
		t.Fatal(err)
	}
	stepUntil(t, NewKeeper(db, "gw1", fast), switchConfig("gw1"), 5*time.Second, "gw1 takes the lease", holds)
	for _, e := range hook.AllEntries() {
		if e.Message == "took the switch's lease: managing it" {
			if got := e.Data[logging.Object]; got != "torSwitches[tor1]" {
				t.Errorf("object field %v, want torSwitches[tor1]; fields %v", got, e.Data)
			}
			if _, ok := e.Data["switch"]; ok {
				t.Errorf("the switch named twice: %v", e.Data)
			}
			return
		}
	}
	t.Fatalf("no line says the lease was taken: %d lines", len(hook.AllEntries()))
}
