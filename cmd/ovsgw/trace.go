package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/ovsgw/ovsgw/gateway/trace"
)

func traceCmd() *cobra.Command {
	var sf socketFlags
	var r trace.Request
	var fromVLAN int
	cmd := &cobra.Command{
		Use:   "trace --vmi NAME (--dst-ip IP | --dst-mac MAC) [--proto tcp|udp|icmp|icmpv6] [--dst-port N] [--from-vlan N]",
		Short: "Trace the packet a VMI would send through the bridge: each table, owner and drop reason, and the verdict",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("from-vlan") {
				r.FromVLAN = &fromVLAN
			}
			if err := r.Check(); err != nil {
				return err
			}
			c, err := sf.client()
			if err != nil {
				return err
			}
			res, err := c.Trace(context.Background(), r)
			if err != nil {
				return err
			}
			if sf.output == "json" {
				return printJSON(cmd.OutOrStdout(), res)
			}
			res.WriteText(cmd.OutOrStdout())
			return nil
		},
	}
	sf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&r.VMI, "vmi", "", "the VMI that sends the packet (bound on this node)")
	f.StringVar(&r.DstIP, "dst-ip", "", "destination IP (default: the first IPv4 address of the VMI with --dst-mac)")
	f.StringVar(&r.DstMAC, "dst-mac", "", "destination MAC (default: the MAC of the VMI of the VN with --dst-ip)")
	f.StringVar(&r.Proto, "proto", "", "tcp, udp, icmp or icmpv6 (default: an ICMP echo request of the destination's family)")
	f.IntVar(&r.DstPort, "dst-port", 0, "destination port, for tcp and udp")
	f.IntVar(&fromVLAN, "from-vlan", 0, "the VLAN the frame arrives with, instead of the VMI's own (0: untagged)")
	f.StringVar(&r.SrcIP, "src-ip", "", "source IP instead of the VMI's first instance IP (a forged one meets port security)")
	f.StringVar(&r.SrcMAC, "src-mac", "", "source MAC instead of the VMI's")
	return cmd
}
