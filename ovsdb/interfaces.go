package ovsdb

import (
	"context"
	"slices"
	"strings"
)

// Interface is what ovsgw needs to know about one interface of a bridge.
type Interface struct {
	Name       string
	OFPort     int32  // 0 while ovs-vswitchd has not assigned one, -1 when it failed
	IfaceID    string // external_ids:iface-id, the VMI a VM port belongs to
	LinkState  string // "up", "down" or "" before ovs-vswitchd reports it
	AdminState string // likewise
	Owned      bool   // created by ovsgw (a physical NIC or the local port)
	Port       string // name of the Port row holding the interface
}

// Interfaces lists, from the cache, the interfaces of bridge's ports sorted
// by name; nil when the bridge does not exist. It does not block: while
// the client is reconnecting it reports the last complete state.
func (c *Client) Interfaces(bridge string) []Interface {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // an ended context makes libovsdb's List read without waiting
	s, err := c.snapshot(ctx)
	if err != nil {
		log.WithError(err).Warn("cannot read interfaces from cache")
		return nil
	}
	br := s.bridges[bridge]
	if br == nil {
		return nil
	}
	var out []Interface
	for _, pu := range br.Ports {
		p := s.ports[pu]
		if p == nil {
			continue
		}
		for _, iu := range p.Interfaces {
			i := s.ifaces[iu]
			if i == nil {
				continue
			}
			out = append(out, Interface{
				Name:       i.Name,
				OFPort:     int32(deref(i.Ofport)), // OpenFlow ports are 16 bit; -1 fits
				IfaceID:    i.ExternalIDs[IfaceIDKey],
				LinkState:  deref(i.LinkState),
				AdminState: deref(i.AdminState),
				Owned:      owned(i.ExternalIDs),
				Port:       p.Name,
			})
		}
	}
	slices.SortFunc(out, func(a, b Interface) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
