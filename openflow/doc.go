// Package openflow is ovsgw's OpenFlow 1.3 layer: flow and group value types with one canonical
// text form (accepted by ovs-ofctl), a controller session over libOpenflow (handshake, echo,
// xid-matched replies, barriers, bundles, dumps), and the diff that turns installed state into
// desired state with the fewest messages.
//
// Everything above this package speaks in Flow and Group values; nothing above it sees a
// libOpenflow type.
package openflow
