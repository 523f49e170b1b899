// Package e2e holds ovsgw's end-to-end tests: the real agent binary against real ovsdb-server and
// ovs-vswitchd processes in network namespaces, with real hosts sending real packets through a
// ToR switch. They need root and Open vSwitch, and fail (never skip) without them.
package e2e
