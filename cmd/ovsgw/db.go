package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/ovsgw/ovsgw/gateway/model"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
)

// dbTimeout bounds a db command's wait for a cluster leader and its work.
// An election takes the election timer (1 s by default, randomised to 2 s);
// 30 s also covers a member that is being restarted.
const dbTimeout = 30 * time.Second

// dbFlags are the flags every db subcommand shares.
type dbFlags struct {
	endpoints string
	timeout   time.Duration
}

func (f *dbFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.endpoints, "db", "", "every member of the config DB cluster, comma-separated (tcp:127.0.0.1:6641,tcp:127.0.0.1:6642,...)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", dbTimeout, "how long to wait for a cluster leader and the command's work")
	cmd.MarkFlagRequired("db")
}

// connect returns a client of the leader and a context bounded by --timeout.
func (f *dbFlags) connect(cmd *cobra.Command) (*configdb.Client, context.Context, func(), error) {
	// Info logs (connected, applied) would repeat what the command prints.
	if !logrus.IsLevelEnabled(logrus.DebugLevel) {
		logrus.SetLevel(logrus.WarnLevel)
	}
	var eps []string
	for _, e := range strings.Split(f.endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	c, err := configdb.Connect(ctx, eps)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return c, ctx, func() { c.Close(); cancel() }, nil
}

func dbCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "The shared config and state database (an ovsdb-server Raft cluster)",
	}
	cmd.AddCommand(dbApplyCmd(), dbShowCmd())
	return cmd
}

func dbApplyCmd() *cobra.Command {
	var f dbFlags
	var file string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply -f GATEWAY.yaml --db MEMBERS [--dry-run]",
		Short: "Validate a gateway config and make the config DB equal it, in one transaction",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Validated before connecting, with ovsgw validate's errors.
			c, _, err := model.Load(file)
			if err != nil {
				return err
			}
			db, ctx, done, err := f.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			sum, err := db.Apply(ctx, c, dryRun)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			out := cmd.OutOrStdout()
			switch {
			case dryRun:
				fmt.Fprintf(out, "dry run, nothing written (config generation %d):\n%s", sum.Generation, sum)
			case sum.Empty():
				fmt.Fprintf(out, "%s: no change (config generation %d)\n", file, sum.Generation)
			default:
				fmt.Fprintf(out, "%sapplied %s: config generation %d\n", sum, file, sum.Generation)
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVarP(&file, "file", "f", "", "the gateway config YAML")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would change, write nothing")
	cmd.MarkFlagRequired("file")
	return cmd
}

func dbShowCmd() *cobra.Command {
	var f dbFlags
	var staleAfter time.Duration
	cmd := &cobra.Command{
		Use:   "show --db MEMBERS",
		Short: "Show the nodes (heartbeat, interfaces) and every VMI with where it is bound",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, _, done, err := f.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			v, err := db.View()
			if err != nil {
				return err
			}
			return v.Write(cmd.OutOrStdout(), time.Now(), staleAfter)
		},
	}
	f.add(cmd)
	cmd.Flags().DurationVar(&staleAfter, "stale-after", configdb.StaleAfter, "mark a node STALE when its last heartbeat is older")
	return cmd
}
