package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/ovsgw/ovsgw/gateway/configstore"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/ovsdb/ovstls"
	"github.com/ovsgw/ovsgw/schemas"
)

// dbTimeout bounds a db command's wait for a cluster leader and its work.
// An election takes the election timer (1 s by default, randomised to 2 s);
// 30 s also covers a member that is being restarted.
const dbTimeout = 30 * time.Second

// dbFlags are the flags every db subcommand shares.
type dbFlags struct {
	endpoints string
	timeout   time.Duration
	tls       ovstls.Files
	peerCN    string
}

// The TLS flags, named as ovsdb-server's and ovs-vsctl's options are.
const (
	flagPrivateKey  = "private-key"
	flagCertificate = "certificate"
	flagCACert      = "ca-cert"
	flagPeerCN      = "peer-cn"
)

// tlsFlags names each TLS setting by its flag.
var tlsFlags = map[ovstls.Setting]string{
	ovstls.Endpoints:       "db",
	ovstls.PrivateKey:      flagPrivateKey,
	ovstls.Certificate:     flagCertificate,
	ovstls.CACert:          flagCACert,
	ovstls.PeerCommonNames: flagPeerCN,
}

func (f *dbFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.endpoints, "db", "", "every member of the config DB cluster, comma-separated (ssl:10.0.0.1:6641,ssl:10.0.0.2:6641,...; or tcp:, unix:)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", dbTimeout, "how long to wait for a cluster leader and the command's work")
	cmd.Flags().StringVar(&f.tls.PrivateKey, flagPrivateKey, "", "with ssl: members: this side's PEM private key")
	cmd.Flags().StringVar(&f.tls.Certificate, flagCertificate, "", "with ssl: members: this side's PEM certificate, signed by a CA the members trust")
	cmd.Flags().StringVar(&f.tls.CACert, flagCACert, "", "with ssl: members: the PEM CA certificate the members' certificates must be signed by")
	cmd.Flags().StringVar(&f.peerCN, flagPeerCN, "", "with ssl: members: their certificates' common names, comma-separated; any other is refused")
	cmd.MarkFlagRequired("db")
}

// connect returns a client of the leader and a context bounded by --timeout.
func (f *dbFlags) connect(cmd *cobra.Command, opts ...configdb.Option) (*configdb.Client, context.Context, func(), error) {
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
	f.tls.PeerCommonNames = ovstls.ParseCommonNames(f.peerCN)
	if problems := ovstls.CheckSetup(eps, f.tls); len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = "--" + tlsFlags[p.Setting] + ": " + p.Reason
		}
		return nil, nil, nil, errors.New(strings.Join(msgs, "\n"))
	}
	if f.tls.Given() {
		t, err := ovstls.NewClient("config DB member", f.tls)
		if err != nil {
			return nil, nil, nil, err
		}
		opts = append(opts, configdb.WithTLS(t))
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.timeout)
	c, err := configdb.Connect(ctx, eps, append(opts, configdb.StopOnSchemaMismatch())...)
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
	cmd.AddCommand(dbApplyCmd(), dbShowCmd(), dbSchemaCmd())
	return cmd
}

func dbSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the config DB schema this ovsgw was built with (version " + configdb.SchemaVersion + "), for ovsdb-client convert",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(schemas.Gateway)
			return err
		},
	}
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
			c, err := loadGatewayConfig(file)
			if err != nil {
				return err
			}
			// Config tables only: the command needs none of the state the
			// nodes publish, which at scale is most of the database.
			db, ctx, done, err := f.connect(cmd, configdb.ConfigOnly())
			if err != nil {
				return err
			}
			defer done()
			sum, err := configstore.New(db).ApplyValidated(ctx, c, dryRun)
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
	cmd.Flags().StringVarP(&file, "file", "f", "", "the gateway config: a YAML file, or a directory of them")
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
			v, err := configstore.New(db).View()
			if err != nil {
				return err
			}
			if n := configdb.SchemaNotice(db.ServerSchemaVersion(), db.Endpoint()); n != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "NOTE: %s\n\n", n)
			}
			return v.Write(cmd.OutOrStdout(), time.Now(), staleAfter)
		},
	}
	f.add(cmd)
	cmd.Flags().DurationVar(&staleAfter, "stale-after", configdb.StaleAfter, "mark a node STALE when its last heartbeat is older")
	return cmd
}
