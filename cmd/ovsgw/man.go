package main

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// manCmd writes a man page per command (cobra/doc) into a directory: a build step of
// `make deb`, hidden from the operator's help. Pages are dated by SOURCE_DATE_EPOCH when it is
// set, so that a package built twice from one commit holds the same pages.
func manCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write a man page per command into DIR (used by make deb)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			return doc.GenManTreeFromOpts(cmd.Root(), doc.GenManTreeOptions{
				Header:           &doc.GenManHeader{Section: "1", Source: "ovsgw " + version, Manual: "ovsgw manual"},
				Path:             args[0],
				CommandSeparator: "-",
			})
		},
	}
}
