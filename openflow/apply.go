package openflow

import (
	"context"
	"errors"
	"fmt"

	"antrea.io/libOpenflow/openflow13"
	"antrea.io/libOpenflow/util"
)

// FlowCommand is what a FlowMod does.
type FlowCommand uint8

const (
	// FlowAdd installs the flow (replacing an entry with the same table, priority and match).
	FlowAdd FlowCommand = iota
	// FlowModifyStrict replaces the actions and cookie of the entry with the same table,
	// priority and match, keeping its packet and byte counters (its duration restarts). It is
	// sent as an add (see encodeFlowMod), so a missing entry is created.
	FlowModifyStrict
	// FlowDeleteStrict removes the entry with the same table, priority and match, provided it
	// still carries the flow's cookie.
	FlowDeleteStrict
)

func (c FlowCommand) String() string {
	switch c {
	case FlowAdd:
		return "add"
	case FlowModifyStrict:
		return "modify"
	case FlowDeleteStrict:
		return "delete"
	}
	return fmt.Sprintf("flow-command-%d", uint8(c))
}

// GroupCommand is what a GroupMod does.
type GroupCommand uint8

const (
	// GroupAdd creates the group; it fails if the id exists.
	GroupAdd GroupCommand = iota
	// GroupModify replaces the type and buckets of an existing group.
	GroupModify
	// GroupDelete removes the group; OpenFlow also removes every flow that uses it.
	GroupDelete
)

func (c GroupCommand) String() string {
	switch c {
	case GroupAdd:
		return "add"
	case GroupModify:
		return "modify"
	case GroupDelete:
		return "delete"
	}
	return fmt.Sprintf("group-command-%d", uint8(c))
}

// Change is one modification of a switch: a FlowMod or a GroupMod.
type Change interface {
	// String names the change with the flow or group in canonical text.
	String() string
	// message encodes the change as an OpenFlow message with transaction id xid.
	message(xid uint32) (util.Message, error)
}

// FlowMod adds, modifies or deletes one flow.
type FlowMod struct {
	Command FlowCommand
	Flow    Flow
}

// GroupMod adds, modifies or deletes one group.
type GroupMod struct {
	Command GroupCommand
	Group   Group
}

func (m FlowMod) String() string  { return m.Command.String() + " flow " + m.Flow.String() }
func (m GroupMod) String() string { return m.Command.String() + " group " + m.Group.String() }

func (m FlowMod) message(xid uint32) (util.Message, error) {
	fm, err := encodeFlowMod(m.Command, m.Flow)
	if err != nil {
		return nil, err
	}
	fm.Xid = xid
	return fm, nil
}

func (m GroupMod) message(xid uint32) (util.Message, error) {
	gm, err := encodeGroupMod(m.Command, m.Group)
	if err != nil {
		return nil, err
	}
	gm.Xid = xid
	return gm, nil
}

// ChangeError is the switch's refusal of one change.
type ChangeError struct {
	Change Change
	Err    *OFError
}

func (e *ChangeError) Error() string { return fmt.Sprintf("%s: %s", e.Change, e.Err.Words()) }
func (e *ChangeError) Unwrap() error { return e.Err }

// bundleFlags are the flags of every bundle we open: all or nothing, in the order given.
const bundleFlags = openflow13.OFPBCT_ATOMIC | openflow13.OFPBCT_ORDERED

// maxReported caps how many refused changes one Apply error lists.
const maxReported = 20

// Apply makes all changes in one OpenFlow bundle (the ONF extension OVS implements for
// OpenFlow 1.3), atomically and in order: either the switch takes every change or none.
//
// OVS validates each message when it is added to the bundle, rejects only that message and
// would still commit the rest, so Apply follows the adds with a barrier and commits only if no
// add was refused (it discards the bundle otherwise). Errors the switch reports, at add or at
// commit time, are matched by xid to their change and returned as *ChangeError values joined
// into one error (at most maxReported of them).
//
// Measured on OVS 3.1 (see conn_integration_test.go): group mods are accepted inside the
// bundle, a group added there can be used by flows added after it, and a failing group mod
// rolls the whole bundle back, so groups need no separate, unbundled steps. OVS has no bundle
// size limit we could reach (100,000 flow adds committed in one bundle in 1.8 s), so Apply
// never splits a change set.
func (c *Conn) Apply(ctx context.Context, changes []Change) error {
	if len(changes) == 0 {
		return nil
	}
	id := c.bid.Add(1)
	open := bundleCtrl(id, openflow13.OFPBCT_OPEN_REQUEST, c.nextXID())
	xids := make([]uint32, len(changes))
	byXID := make(map[uint32]Change, len(changes))
	for i, ch := range changes {
		xids[i] = c.nextXID()
		byXID[xids[i]] = ch
	}
	barrier := newHeader(openflow13.Type_BarrierRequest)
	barrier.Xid = c.nextXID()

	w := newWaiter()
	all := append([]uint32{open.Header.Xid, barrier.Xid}, xids...)
	c.register(w, all...)
	defer func() { c.unregister(all...) }()
	if err := c.write(open); err != nil {
		return err
	}
	// The adds are built and written applyBatch at a time, so that a bundle of 100K changes
	// never holds 100K messages in memory at once.
	msgs := make([]util.Message, 0, min(applyBatch, len(changes)))
	for start := 0; start < len(changes); start += applyBatch {
		msgs = msgs[:0]
		for i := start; i < min(start+applyBatch, len(changes)); i++ {
			m, err := changes[i].message(xids[i])
			if err != nil {
				c.write(bundleCtrl(id, openflow13.OFPBCT_DISCARD_REQUEST, c.nextXID()))
				return fmt.Errorf("%s: %w", changes[i], err)
			}
			// The added message and the bundle-add carry the same xid, so OVS's errors about
			// the message (sent with the inner xid) find their change either way.
			add := openflow13.NewBundleAdd(&openflow13.BundleAdd{BundleID: id, Flags: bundleFlags, Message: m})
			add.Header.Xid = xids[i]
			msgs = append(msgs, add)
		}
		if err := c.write(msgs...); err != nil {
			return err
		}
	}
	if err := c.write(&barrier); err != nil {
		return err
	}

	var errs []error
	refused := 0
	// collect reads frames until the barrier reply with xid upTo, turning every error into
	// errs: a change's own error as a *ChangeError, any other as "what: error".
	collect := func(upTo uint32, what map[uint32]string) error {
		for {
			f, err := w.next(ctx, c)
			if err != nil {
				if ctx.Err() != nil {
					// Best effort: do not leave the bundle open on the switch.
					c.write(bundleCtrl(id, openflow13.OFPBCT_DISCARD_REQUEST, c.nextXID()))
				}
				return err
			}
			switch {
			case f.typ == openflow13.Type_BarrierReply && f.xid == upTo:
				return nil
			case f.typ != openflow13.Type_Error:
			case byXID[f.xid] != nil:
				if refused++; refused <= maxReported {
					errs = append(errs, &ChangeError{Change: byXID[f.xid], Err: parseError(f.b)})
				}
			case f.xid == open.Header.Xid:
				// Without a bundle every add fails too; only this error matters.
				return fmt.Errorf("bundle open: %w", parseError(f.b))
			default:
				errs = append(errs, fmt.Errorf("%s: %w", what[f.xid], parseError(f.b)))
			}
		}
	}
	if err := collect(barrier.Xid, map[uint32]string{barrier.Xid: "barrier"}); err != nil {
		return errors.Join(append(errs, err)...)
	}

	// Commit only a bundle whose every message was accepted; the barrier after commit or
	// discard guarantees that an error OVS sends for the message that failed the commit has
	// been delivered before we stop reading.
	final, name := openflow13.OFPBCT_COMMIT_REQUEST, "bundle commit"
	if len(errs) > 0 {
		final, name = openflow13.OFPBCT_DISCARD_REQUEST, "bundle discard"
	}
	end := bundleCtrl(id, final, c.nextXID())
	endBarrier := newHeader(openflow13.Type_BarrierRequest)
	endBarrier.Xid = c.nextXID()
	all = append(all, end.Header.Xid, endBarrier.Xid)
	c.register(w, end.Header.Xid, endBarrier.Xid)
	if err := c.write(end, &endBarrier); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if err := collect(endBarrier.Xid, map[uint32]string{end.Header.Xid: name, endBarrier.Xid: "barrier"}); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if refused > maxReported {
		errs = append(errs, fmt.Errorf("and %d more refused changes", refused-maxReported))
	}
	return errors.Join(errs...)
}

// applyBatch is how many bundle adds Apply builds and writes at a time: enough to fill the
// socket's write chunks, few enough that a cold start's 100K flows are never all in memory as
// messages at once.
const applyBatch = 1024

// bundleCtrl builds a bundle control message.
func bundleCtrl(id uint32, typ uint16, xid uint32) *openflow13.VendorHeader {
	m := openflow13.NewBundleControl(&openflow13.BundleControl{BundleID: id, Type: typ, Flags: bundleFlags})
	m.Header.Xid = xid
	return m
}
