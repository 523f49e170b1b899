// Package unixctl calls commands of an Open vSwitch daemon over its control socket (the
// JSON-RPC protocol ovs-appctl speaks), for the few things OpenFlow and OVSDB cannot ask.
package unixctl
