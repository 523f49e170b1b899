// Package lab builds the ovsgw topologies that the end-to-end tests and `make demo` share, on top
// of the generic testbed: nodes running the ovsgw agent, ToR switches and hosts.
package lab
