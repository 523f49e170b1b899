package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ovsgw/ovsgw/gateway/model"
)

func validateCmd() *cobra.Command {
	var file, host string
	var maxIfaces int
	cmd := &cobra.Command{
		Use:   "validate -f GATEWAY.yaml",
		Short: "Check a gateway config and print every error, each naming its object and field",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := model.Load(file)
			if err != nil {
				return err
			}
			x := model.NewIndex(c)
			if host != "" {
				if err := x.CheckCapacity(host, maxIfaces); err != nil {
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
	cmd.Flags().StringVarP(&file, "file", "f", "", "the gateway config YAML")
	cmd.Flags().StringVar(&host, "host", "", "also check the interface budget of this node")
	cmd.Flags().IntVar(&maxIfaces, "max-interfaces", model.DefaultMaxInterfaces, "the node's interface budget, with --host")
	cmd.MarkFlagRequired("file")
	return cmd
}
