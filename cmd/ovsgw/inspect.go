package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ovsgw/ovsgw/gateway/agentconf"
	"github.com/ovsgw/ovsgw/gateway/control"
)

// socketFlags finds the agent's control socket: --socket, or the one its --config names.
type socketFlags struct{ socket, config, output string }

func (s *socketFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.socket, "socket", "", "the agent's control socket (default: from --config, else "+agentconf.DefaultControlSocket+")")
	cmd.Flags().StringVarP(&s.config, "config", "c", "", "the agent's INI config, to find its control socket")
	cmd.Flags().StringVarP(&s.output, "output", "o", "text", "output format: text or json")
}

func (s *socketFlags) client() (*control.Client, error) {
	if s.output != "text" && s.output != "json" {
		return nil, fmt.Errorf("--output %q: want text or json", s.output)
	}
	path := s.socket
	if path == "" && s.config != "" {
		conf, err := agentconf.Load(s.config)
		if err != nil {
			return nil, err
		}
		path = conf.ControlSocket
	}
	if path == "" {
		path = agentconf.DefaultControlSocket
	}
	return control.NewClient(path), nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func flowsCmd() *cobra.Command {
	var sf socketFlags
	var filter control.FlowFilter
	cmd := &cobra.Command{
		Use:   "flows [--vmi NAME] [--vn NAME] [--table NAME|N]",
		Short: "Dump the bridge's flows, each annotated with its table and the object it serves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			fl, err := c.Flows(context.Background(), filter)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if sf.output == "json" {
				return printJSON(w, fl)
			}
			for _, f := range fl.Flows {
				owner := f.OwnerKind
				if f.OwnerName != "" {
					owner += " " + f.OwnerName
				}
				if f.Drop != "" {
					owner += " drop:" + f.Drop
				}
				fmt.Fprintf(w, "%-14s %-34s n_packets=%d, n_bytes=%d, duration=%.1fs, %s\n",
					f.TableName, "["+owner+"]", f.Packets, f.Bytes, f.Duration, f.Text)
			}
			for _, g := range fl.Groups {
				fmt.Fprintf(w, "%-14s %-34s %s\n", "group", "["+g.OwnerKind+" "+g.OwnerName+"]", g.Text)
			}
			return nil
		},
	}
	sf.add(cmd)
	cmd.Flags().StringVar(&filter.VMI, "vmi", "", "only the flows of this virtual machine interface")
	cmd.Flags().StringVar(&filter.VN, "vn", "", "only the flows of this virtual network and its VMIs")
	cmd.Flags().StringVar(&filter.Table, "table", "", "only this table (name or number)")
	return cmd
}

func statusCmd() *cobra.Command {
	var sf socketFlags
	var noCounters bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the agent's node, gateway mode, interface budget, bindings and last errors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			s, err := c.Status(context.Background(), !noCounters)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if sf.output == "json" {
				return printJSON(w, s)
			}
			printStatus(w, s)
			return nil
		},
	}
	sf.add(cmd)
	cmd.Flags().BoolVar(&noCounters, "no-counters", false, "skip the drop counters (they need a dump of every flow)")
	return cmd
}

func printStatus(w io.Writer, s *control.Status) {
	mode := "server"
	if !s.GatewayMode {
		mode = "off — " + s.GatewayModeReason
	}
	fmt.Fprintf(w, "node:          %s\n", s.Node)
	fmt.Fprintf(w, "gateway mode:  %s\n", mode)
	fmt.Fprintf(w, "bridge:        %s (ovsdb %s, openflow %s)\n", s.Bridge, updown(s.OVSDBConnected), updown(s.OpenFlowConnected))
	fmt.Fprintf(w, "interfaces:    %d / %d used\n", s.InterfacesUsed, s.InterfacesLimit)
	fmt.Fprintf(w, "config:        %s (loaded %s)\n", s.ConfigFile, s.ConfigLoadedAt.Format(time.RFC3339))
	if s.LastConfigError != "" {
		fmt.Fprintf(w, "config error:  %s\n               %s\n", s.LastConfigErrorAt.Format(time.RFC3339), strings.ReplaceAll(s.LastConfigError, "\n", "\n               "))
	}
	sync := "never"
	if s.LastSync != nil {
		sync = fmt.Sprintf("%s, %d changes", s.LastSync.Format(time.RFC3339), s.LastSyncChanges)
	}
	fmt.Fprintf(w, "flows:         %d flows, %d groups; last sync %s\n", s.Flows, s.Groups, sync)
	if s.LastSyncError != "" {
		fmt.Fprintf(w, "sync error:    %s\n", s.LastSyncError)
	}
	for _, n := range s.Notices {
		fmt.Fprintf(w, "notice:        %s\n", n)
	}
	if s.Drops != nil {
		fmt.Fprintf(w, "drops:         %s\n", countsText(s.Drops.ByReason))
	}
	if s.HA != nil {
		fwd := "the switch does not forward to it"
		if s.HA.Forwarding {
			fwd = "the switch forwards to it"
		}
		fmt.Fprintf(w, "HA:            %s of group %s since %s on %s (%s)\n", s.HA.Role, s.HA.Group,
			s.HA.Since.Format(time.RFC3339), strings.Join(s.HA.Ports, ", "), fwd)
		for _, g := range s.HA.Gateways {
			stale := ""
			if g.Stale {
				stale = " (STALE)"
			}
			fmt.Fprintf(w, "               gateway %s: %s since %s%s\n", g.Node, g.Role, g.Since.Format(time.RFC3339), stale)
		}
	}
	for _, sw := range s.TorSwitches {
		state := "DISCONNECTED"
		if sw.Connected {
			state = "connected, out of sync"
			if sw.InSync {
				state = "connected, in sync"
			}
		}
		fmt.Fprintf(w, "ToR switch:    %s (%s) %s; %d logical switches, %d bindings, %d remote MACs; %d MACs learned\n",
			sw.Name, sw.Endpoint, state, sw.Rows.LogicalSwitches, sw.Rows.Bindings, sw.Rows.RemoteMACs, sw.MACsLearned)
		for _, p := range sw.Problems {
			fmt.Fprintf(w, "               problem: %s\n", p)
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VMI\tVN\tKIND\tWHERE\tSTATE\tDROPS")
	for _, b := range s.Bindings {
		where := b.Port
		if b.Kind == "remote" {
			where = fmt.Sprintf("%s vlan %d (%s)", b.PhysicalInterface, b.VLAN, b.LogicalInterface)
		}
		if b.OFPort > 0 {
			where += fmt.Sprintf(" ofport %d", b.OFPort)
		}
		state := "bound"
		if !b.Bound {
			state = "not bound: " + b.Reason
		}
		drops := "-"
		if s.Drops != nil && len(s.Drops.ByVMI[b.VMI]) > 0 {
			drops = countsText(s.Drops.ByVMI[b.VMI])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", b.VMI, b.VN, b.Kind, where, state, drops)
	}
	tw.Flush()
}

func updown(ok bool) string {
	if ok {
		return "connected"
	}
	return "DISCONNECTED"
}

// countsText prints counters as "name=N" pairs in name order, leaving out zeros.
func countsText(counts map[string]uint64) string {
	names := make([]string, 0, len(counts))
	for n, c := range counts {
		if c > 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, counts[n])
	}
	return strings.Join(parts, " ")
}
