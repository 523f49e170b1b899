// Package ovstls is the TLS of ovsgw's OVSDB connections over ssl: — to the shared config
// database's ovsdb-server members and to ToR switches' hardware_vtep databases — made the way
// Open vSwitch's stream-ssl makes it, so that certificates from ovs-pki work as they do between
// OVS daemons.
//
// # Verification
//
// Every connection is mutual: this side presents its certificate (PEM private key and
// certificate files), and the peer's certificate must chain to the CA certificate file. Host
// names are not compared: ovs-pki issues certificates that name a switch or controller (the
// common name, "NAME id:UUID" unless `ovs-pki -u`), never the host or address it is reached at,
// so a host-name check would refuse every one of them. A peer may be pinned in addition: with
// [Files.PeerCommonNames] set, its certificate's common name must be one of them, so that a
// certificate the same CA signed for something else (a node, a switch) is not taken for the
// peer's.
//
// # Rotation
//
// The files are read at each handshake, not once: a key, certificate or CA file replaced on disk
// (in place or renamed over) is used by the next connection, without a restart. Each file's
// identity (device, inode), modification and change times and size are compared first, so an
// unchanged file is not read again; connections that are up keep the certificates they were
// made with.
//
// # Reading files safely
//
// Paths come from configuration that names files the agent opens as root. [ReadFile] reads only
// regular files, at most [MaxFileSize] bytes: a FIFO, a device such as /dev/zero, a socket or a
// directory at a key path is an error naming the path and what it is, found without blocking (a
// FIFO is not even opened for reading) and without filling memory. Nothing here holds a lock
// while it reads.
package ovstls
