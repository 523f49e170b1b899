package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/gateway/pipeline"
)

func validateCmd() *cobra.Command {
	var file, host string
	var maxIfaces, maxFlows int
	cmd := &cobra.Command{
		Use:   "validate -f GATEWAY.yaml|DIR",
		Short: "Check a gateway config and print every error, each naming its object and field",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadGatewayConfig(file)
			if err != nil {
				return err
			}
			x := model.NewIndex(c)
			if host != "" {
				if err := x.CheckCapacity(host, maxIfaces); err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
				// The node's remote instances; local VMs are counted by the agent, which sees them.
				if err := pipeline.CheckFlowBudget(x, host, x.RemoteInstances(host), maxFlows); err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid: %d virtual networks, %d physical routers, %d virtual machine interfaces\n",
				file, len(c.VirtualNetworks), len(c.PhysicalRouters), len(c.VirtualMachineInterfaces))
			for _, pr := range c.PhysicalRouters {
				used := x.InterfacesUsed(pr.Name)
				fmt.Fprintf(cmd.OutOrStdout(), "  %s: %d remote instances, %d interfaces\n", pr.Name, used/model.InterfacesPerRemoteVMI, used)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the gateway config: a YAML file, or a directory of them")
	cmd.Flags().StringVar(&host, "host", "", "also check the interface and flow budgets of this node")
	cmd.Flags().IntVar(&maxIfaces, "max-interfaces", model.DefaultMaxInterfaces, "the node's interface budget, with --host")
	cmd.Flags().IntVar(&maxFlows, "max-flows", model.DefaultMaxFlows, "the node's flow budget, with --host (its remote instances' flows)")
	cmd.MarkFlagRequired("file")
	return cmd
}
