package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/ovsgw/ovsgw/gateway/vcenter"
)

func vcenterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vcenter",
		Short: "Keep VMware VMs in step with the config DB as remote instances",
	}
	cmd.AddCommand(vcenterSyncCmd(), vcenterStatusCmd())
	return cmd
}

func vcenterSyncCmd() *cobra.Command {
	var f dbFlags
	var file string
	cmd := &cobra.Command{
		Use:   "sync --config FILE --db MEMBERS",
		Short: "Watch one vCenter and keep the VMIs, logical interfaces and DVS port VLANs of its VMs in the config DB (runs until stopped)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := vcenter.LoadConfig(file)
			if err != nil {
				return err
			}
			level := logrus.GetLevel()
			db, _, done, err := f.connect(cmd)
			logrus.SetLevel(level) // connect quiets info logs for one-shot commands; this one runs
			if err != nil {
				return err
			}
			defer done()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return vcenter.New(cfg, db).Run(ctx)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&file, "config", "", "the INI file with the sync's [VCENTER] section")
	cmd.MarkFlagRequired("config")
	return cmd
}

func vcenterStatusCmd() *cobra.Command {
	var f dbFlags
	cmd := &cobra.Command{
		Use:   "status --db MEMBERS",
		Short: "Show each vCenter sync's connection, VMs seen, NICs mapped, VLANs in use and free, last error and reports",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, _, done, err := f.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			rows, err := db.VcenterSyncs()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(rows) == 0 {
				fmt.Fprintln(out, "no vCenter sync has written a status")
				return nil
			}
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SYNC\tVCENTER\tCONNECTED\tVMS\tNICS MAPPED\tVLANS USED\tVLANS FREE\tUPDATED")
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\t%t\t%d\t%d\t%d\t%d\t%s\n", r.Name, r.Url, r.Connected, r.VmsSeen, r.NicsMapped,
					r.VLANsUsed, r.VLANsFree, time.UnixMilli(int64(r.Updated)).UTC().Format(time.RFC3339))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			for _, r := range rows {
				if r.LastError != "" {
					fmt.Fprintf(out, "%s: last error: %s\n", r.Name, r.LastError)
				}
				for _, rep := range r.Reports {
					fmt.Fprintf(out, "%s: %s\n", r.Name, strings.TrimSpace(rep))
				}
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}
