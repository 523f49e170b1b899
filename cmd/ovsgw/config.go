package main

import (
	"fmt"

	"github.com/ovsgw/ovsgw/gateway/filesource"
	"github.com/ovsgw/ovsgw/gateway/model"
)

// loadGatewayConfig reads a gateway config YAML file, or a directory of them merged as the
// agent merges them, and validates it.
func loadGatewayConfig(path string) (*model.Config, error) {
	src, err := filesource.Open(path)
	if err != nil {
		return nil, err
	}
	c := src.Config()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
