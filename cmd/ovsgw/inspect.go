package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
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
	var noCounters, noBindings bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the agent's node, gateway mode, interface budget, bindings and last errors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := sf.client()
			if err != nil {
				return err
			}
			var s *control.Status
			if noBindings && noCounters {
				s, err = c.StatusBrief(context.Background())
			} else {
				s, err = c.Status(context.Background(), !noCounters)
				if err == nil && noBindings {
					s.Bindings = nil
				}
			}
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
	cmd.Flags().BoolVar(&noCounters, "no-counters", false, "skip the drop counters (they need a read of every drop flow)")
	cmd.Flags().BoolVar(&noBindings, "no-bindings", false, "show how many VMIs are bound, not each one (with --no-counters, the agent does not send them at all)")
	return cmd
}

func printStatus(w io.Writer, s *control.Status) {
	mode := "server"
	if !s.GatewayMode {
		mode = "off — " + s.GatewayModeReason
	}
	fmt.Fprintf(w, "node:          %s\n", s.Node)
	if s.Waiting != "" {
		fmt.Fprintf(w, "waiting:       %s\n", s.Waiting)
	}
	fmt.Fprintf(w, "gateway mode:  %s\n", mode)
	fmt.Fprintf(w, "bridge:        %s (ovsdb %s, openflow %s)\n", s.Bridge, updown(s.OVSDBConnected), updown(s.OpenFlowConnected))
	fmt.Fprintf(w, "interfaces:    %d / %d used\n", s.InterfacesUsed, s.InterfacesLimit)
	fmt.Fprintf(w, "VMIs:          %d bound here, of %d known to this node\n", s.BindingsBound, s.BindingsTotal)
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
	if s.SyncFailures > 0 || s.PurgeFailures > 0 {
		fmt.Fprintf(w, "failures:      %d syncs, %d datapath cache purges in a row (retried with backoff)\n", s.SyncFailures, s.PurgeFailures)
	}
	for _, n := range s.Notices {
		fmt.Fprintf(w, "notice:        %s\n", n)
	}
	if len(s.SkippedStateRows) > 0 || s.SkippedStateRowsTotal > 0 {
		fmt.Fprintf(w, "skipped rows:  %d state rows of the config DB skipped now (%d since start)\n", len(s.SkippedStateRows), s.SkippedStateRowsTotal)
		for _, r := range s.SkippedStateRows {
			fmt.Fprintf(w, "               %s\n", r)
		}
	}
	if s.Drops != nil {
		fmt.Fprintf(w, "drops:         %s\n", countsText(s.Drops.ByReason))
	}
	if sv := s.Services; sv != nil {
		fmt.Fprintf(w, "services:      %s\n", countsText(sv.Outcomes))
		fmt.Fprintf(w, "packet-ins:    received=%d dropped=%d send-errors=%d\n", sv.PacketIns, sv.PacketInsDropped, sv.SendErrors)
		fmt.Fprintf(w, "meters:        vmi=%d vmi-drops=%d flooding-vmis=%d shared-drops=%d\n", sv.Meters, sv.VMIMeterDrops, sv.FloodingVMIs, sv.SharedMeterDrops)
	}
	for _, n := range s.Networks {
		router := "no router"
		if n.Router != "" {
			router = "router " + n.Router
			if len(n.RouterNetworks) > 0 {
				router += " (with " + strings.Join(n.RouterNetworks, ", ") + ")"
			}
		}
		gws := "no gateway"
		if len(n.Gateways) > 0 {
			gws = "gateway " + strings.Join(n.Gateways, ", ")
		}
		fmt.Fprintf(w, "network:       %s (VNI %d): %s; %s\n", n.Name, n.VNI, router, gws)
	}
	if s.HA != nil {
		fwd := "the switch does not forward to it"
		if s.HA.Forwarding {
			fwd = "the switch forwards to it"
		}
		fmt.Fprintf(w, "HA:            %s of group %s since %s on %s (%s)\n", s.HA.Role, s.HA.Group,
			s.HA.Since.Format(time.RFC3339Nano), strings.Join(s.HA.Ports, ", "), fwd)
		fmt.Fprintf(w, "               why: %s\n", s.HA.Reason)
		for _, g := range s.HA.Gateways {
			stale := ""
			if g.Stale {
				stale = " (STALE)"
			}
			fmt.Fprintf(w, "               gateway %s: %s since %s%s: %s\n", g.Node, g.Role, g.Since.Format(time.RFC3339Nano), stale, g.Reason)
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
		if sw.ConnectError != "" {
			fmt.Fprintf(w, "               cannot connect: %s\n", sw.ConnectError)
		}
		for _, p := range sw.Problems {
			fmt.Fprintf(w, "               problem: %s\n", p)
		}
	}
	for _, l := range s.TorLeases {
		holder := "nobody"
		if l.Holder != "" {
			holder = fmt.Sprintf("%s (epoch %d) until %s", l.Holder, l.Epoch, l.Expires.Format(time.RFC3339Nano))
		}
		here := ""
		if l.WriteUntil != nil {
			here = fmt.Sprintf("; this node writes to it until %s unless it renews", l.WriteUntil.Format(time.RFC3339Nano))
		}
		fmt.Fprintf(w, "ToR lease:     %s held by %s; may manage: %s%s\n", l.Switch, holder, strings.Join(l.Managers, ", "), here)
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

func profileCmd() *cobra.Command {
	var sf socketFlags
	var kind, file string
	var seconds int
	cmd := &cobra.Command{
		Use:   "profile -o FILE [--kind cpu|heap|allocs|goroutine] [--seconds N]",
		Short: "Save a Go profile of the running agent (for go tool pprof): where its CPU time or memory goes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch kind {
			case "cpu", "heap", "allocs", "goroutine":
			default:
				return fmt.Errorf("--kind %q: want cpu, heap, allocs or goroutine", kind)
			}
			if seconds < 1 || seconds > 300 {
				return fmt.Errorf("--seconds %d: want 1..300", seconds)
			}
			if file == "" {
				return fmt.Errorf("--output: name the file to write the profile to")
			}
			sf.output = "text"
			c, err := sf.client()
			if err != nil {
				return err
			}
			f, err := os.Create(file)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second+time.Minute)
			defer cancel()
			if err := c.Profile(ctx, kind, seconds, f); err != nil {
				f.Close()
				os.Remove(file)
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s profile written to %s (go tool pprof -top %s)\n", kind, file, file)
			return nil
		},
	}
	cmd.Flags().StringVar(&sf.socket, "socket", "", "the agent's control socket (default: from --config, else "+agentconf.DefaultControlSocket+")")
	cmd.Flags().StringVarP(&sf.config, "config", "c", "", "the agent's INI config, to find its control socket")
	cmd.Flags().StringVarP(&file, "output", "o", "", "the file to write the profile to")
	cmd.Flags().StringVar(&kind, "kind", "cpu", "cpu (over --seconds), heap, allocs or goroutine")
	cmd.Flags().IntVar(&seconds, "seconds", 30, "how long to sample the CPU")
	return cmd
}
