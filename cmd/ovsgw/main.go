// Command ovsgw is the gateway agent and its operators' tool. Each subcommand turns flags into
// a call of a package; the logic lives in gateway/, ovsdb/ and openflow/.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "ovsgw",
		Short:         "Extend virtual networks to bare-metal servers and foreign VMs on Open vSwitch",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(agentCmd(), validateCmd(), flowsCmd(), statusCmd(), dbCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "ovsgw:", err)
		os.Exit(1)
	}
}
