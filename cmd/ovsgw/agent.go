package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/ovsgw/ovsgw/gateway/agent"
	"github.com/ovsgw/ovsgw/gateway/agentconf"
	"github.com/ovsgw/ovsgw/logging"
)

func agentCmd() *cobra.Command {
	var confPath string
	cmd := &cobra.Command{
		Use:   "agent --config AGENT.conf",
		Short: "Run the node agent: program the bridge from the gateway config and keep it so",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conf, err := agentconf.Load(confPath)
			if err != nil {
				return err
			}
			level, _ := logrus.ParseLevel(conf.LogLevel)
			logrus.SetLevel(level)
			format, err := logging.Formatter(conf.LogFormat) // agentconf checked it
			if err != nil {
				return err
			}
			logrus.SetFormatter(format)
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			a, err := agent.New(ctx, conf)
			if err != nil {
				return err
			}
			return a.Run(ctx)
		},
	}
	cmd.Flags().StringVarP(&confPath, "config", "c", "/etc/ovsgw/agent.conf", "the agent's INI config")
	return cmd
}
