// Package testbed builds throwaway Open vSwitch networks for ovsgw's
// end-to-end tests.
//
// Everything lives in network namespaces that the package creates and
// deletes itself: a [Node] is an ovsdb-server plus ovs-vswitchd pair running
// inside its own namespace with a private run directory, a [Host] is a
// namespace with one interface "eth0" standing for a server or VM, and a
// [ToR] is a Node with a plain learning bridge "tor" that does the VLAN
// tagging the test machine's kernel cannot (no 802.1Q module). Namespaces
// are joined with veth pairs by [Link].
//
// Nothing is configured in the root namespace and no traffic leaves the
// namespaces. Every daemon is a child process started through
// `ip netns exec`, so its pid is known; cleanup (registered with
// T.Cleanup, so it runs when a test fails too) stops daemons by that pid
// only, removes run directories and deletes the namespaces.
//
// All bridges use datapath_type=netdev because the kernel datapath module
// is not available; [Link] therefore turns off tx checksum offload on every
// veth, as the userspace datapath would otherwise forward TCP segments whose
// checksums the kernel never filled in.
//
// Tests need root and the tools installed by scripts/install-deps.sh; call
// [Require] first. A missing prerequisite fails the test rather than
// skipping it, so an unprepared machine cannot pass silently.
package testbed
