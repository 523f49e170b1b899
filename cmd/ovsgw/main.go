// Command ovsgw is the gateway agent and its operators' tool. Each subcommand turns flags into
// a call of a package; the logic lives in gateway/, ovsdb/ and openflow/.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is the release this binary was built from; `make deb` sets it (from git describe,
// or VERSION) with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	root := &cobra.Command{
		Use:           "ovsgw",
		Short:         "Extend virtual networks to bare-metal servers and foreign VMs on Open vSwitch",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.AddCommand(agentCmd(), validateCmd(), flowsCmd(), statusCmd(), traceCmd(), profileCmd(), dbCmd(), vcenterCmd(), manCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ovsgw:", err)
		os.Exit(1)
	}
}
