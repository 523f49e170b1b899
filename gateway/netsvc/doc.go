// Package netsvc answers the network services a gateway node gives the instances (VMIs) bound
// to it, as pure functions from a received frame and what the node knows about the asking VMI
// (an Interface) to the reply frames: no sockets, no clocks, no state. The agent gets the
// frames from packet-ins and sends the replies back with packet-outs to the VMI.
//
//   - ServeDHCPv4: a DHCPv4 server (RFC 2131, options of RFC 2132) over the insomniacslk/dhcp
//     codec. The address is fixed (the VMI's instance IP), so there is no pool and no lease
//     table: DISCOVER gets an OFFER, REQUEST an ACK or a NAK by the client's state, RELEASE
//     and DECLINE are acknowledged to the caller only (a DECLINE means someone else holds the
//     VMI's address: worth a log line), INFORM gets the options without a lease. Requests
//     whose source MAC or chaddr is not the VMI's are ignored, never answered.
//   - ServeICMPv6: neighbour advertisements for the gateway's addresses (the subnets' IPv6
//     gateways and the router's link-local address) and router advertisements in answer to
//     router solicitations; RouterAdvertisement builds the periodic unsolicited one.
//   - ServeICMPv4Echo: echo replies from the gateway address, for a pipeline that does not
//     answer them in flows.
//
// Each returns an Outcome the caller counts (Counters) and shows in its status.
//
// The server identifier of DHCPv4 is the subnet's gateway address: clients renew by unicast
// to it, which reaches the node through the gateway's ARP entry (the router MAC). A subnet
// without a gateway gets NoGatewayServerID, a link-local address (RFC 3927) no instance holds:
// such a client has no route to it, so its renewal fails and it rebinds by broadcast at T2,
// which the node answers alike. The pipeline must therefore send a VMI's UDP to port 67 to the
// agent whatever its destination address.
//
// IPv6 addresses come by SLAAC (RFC 4862) rather than stateful DHCPv6: one router
// advertisement answers every host, the kernel of every mainstream OS configures itself from
// it with no client daemon, and the node keeps no per-client state. Prefixes of length 64 are
// advertised autonomous (A flag); others only on-link, since SLAAC needs a 64-bit interface
// id. The catch: a host forms its own interface id. With EUI-64 ids (Linux's default
// addr_gen_mode) it is SLAACAddress(prefix, MAC), which the model can use as the VMI's IPv6
// instance address; hosts with stable-privacy or temporary addresses (RFC 7217, RFC 8981) pick
// others, which port security that allows only the instance IP would drop. If instance IPv6
// addresses must be enforced for such hosts, stateful DHCPv6 (M flag) is the way, and the
// place for it is beside ServeDHCPv4. DNS servers and the domain go in RDNSS and DNSSL options
// (RFC 8106), which current Linux, Windows and macOS read.
package netsvc
