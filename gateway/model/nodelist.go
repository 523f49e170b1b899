package model

import (
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

// NodeList is a list of node names that YAML and JSON may also give as one name: `gw1` is
// `[gw1]`. One name is written back as one name, so configs written before lists existed
// read and write unchanged.
type NodeList []string

// UnmarshalYAML takes a scalar or a sequence of scalars.
func (l *NodeList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = NodeList{s}
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		*l = list
		return nil
	}
	return fmt.Errorf("line %d: want a node name or a list of node names", n.Line)
}

// MarshalYAML writes one name as a scalar.
func (l NodeList) MarshalYAML() (any, error) {
	if len(l) == 1 {
		return l[0], nil
	}
	return []string(l), nil
}

// UnmarshalJSON takes a string or an array of strings.
func (l *NodeList) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*l = NodeList{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("want a node name or a list of node names: %w", err)
	}
	*l = list
	return nil
}

// MarshalJSON writes one name as a string.
func (l NodeList) MarshalJSON() ([]byte, error) {
	if len(l) == 1 {
		return json.Marshal(l[0])
	}
	return json.Marshal([]string(l))
}
