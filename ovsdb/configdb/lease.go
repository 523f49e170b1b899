package configdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovsgw/ovsgw/ovsdb/clientkit"
	"github.com/ovsgw/ovsgw/ovsdb/configdb/gatewaydb"
)

// ToR switch leases: which node may write a switch's database now.
//
// One Tor_Lease row per switch (index: switch) names its holder, an epoch that every change of
// holder bumps (a takeover, a release), and when the lease expires by the holder's clock (shown
// to operators; no node's decision reads another's clock). Every write is one transaction that
// holds only if the row is still what the writer saw: a take waits (an OVSDB "wait" operation)
// for the exact holder, epoch and expiry it saw, or inserts the first row, which the index
// refuses to a second writer; a renewal or a release waits for holder and epoch. Of two nodes
// racing for one lease, one transaction commits and the other fails with ErrLeaseLost. When and
// whether to take, renew or release is the caller's (gateway/torlease).

// ErrLeaseLost: the lease row is no longer what the caller saw (another node took or renewed
// it, or created it first); nothing was written.
var ErrLeaseLost = errors.New("the lease changed meanwhile")

// TorLease is the lease of one switch's management.
type TorLease struct {
	Switch string
	Holder string // "" once released
	Epoch  int    // bumped by every takeover and release
	// Expires is when the holder's last renewal runs out, by the holder's clock.
	Expires time.Time
}

// TorLeases lists the Tor_Lease rows of the cache, sorted by switch.
func (c *Client) TorLeases() []TorLease {
	list, err := getList(c, &c.views.torLeases, gatewaydb.TorLeaseTable, torLease, func(a, b *TorLease) int {
		return strings.Compare(a.Switch, b.Switch)
	})
	if err != nil {
		log.WithError(err).Warn("cannot read switch leases from cache")
		return nil
	}
	return slices.Clone(list)
}

func torLease(r *gatewaydb.TorLease) TorLease {
	return TorLease{Switch: r.Switch, Holder: r.Holder, Epoch: r.Epoch, Expires: time.UnixMilli(int64(r.Expires))}
}

// TakeTorLease makes node the holder of switch sw's lease for term from now, with the next
// epoch, if the row is still seen (nil: there is none yet). It returns the new lease, or an
// error wrapping ErrLeaseLost when the row changed meanwhile.
func (c *Client) TakeTorLease(ctx context.Context, sw, node string, seen *TorLease, term time.Duration) (TorLease, error) {
	what := fmt.Sprintf("take the lease of switch %q for node %q", sw, node)
	if sw == "" || node == "" {
		return TorLease{}, fmt.Errorf("%s: empty switch or node name", what)
	}
	next := TorLease{Switch: sw, Holder: node, Epoch: 1, Expires: leaseExpiry(time.Now(), term, nil)}
	var ops []libovsdb.Operation
	if seen == nil {
		ops = []libovsdb.Operation{{Op: libovsdb.OperationInsert, Table: gatewaydb.TorLeaseTable, Row: leaseRow(next, true)}}
	} else {
		next.Epoch = seen.Epoch + 1
		next.Expires = leaseExpiry(time.Now(), term, seen)
		ops = []libovsdb.Operation{leaseWait(*seen, true), leaseUpdate(next)}
	}
	return next, c.leaseTransact(ctx, what, ops)
}

// RenewTorLease extends node's lease of switch sw by term from now, if node still holds it at
// epoch; else the error wraps ErrLeaseLost.
func (c *Client) RenewTorLease(ctx context.Context, sw, node string, epoch int, term time.Duration) (TorLease, error) {
	what := fmt.Sprintf("renew the lease of switch %q for node %q", sw, node)
	held := TorLease{Switch: sw, Holder: node, Epoch: epoch}
	next := held
	next.Expires = leaseExpiry(time.Now(), term, c.leaseOf(sw))
	return next, c.leaseTransact(ctx, what, []libovsdb.Operation{leaseWait(held, false), leaseUpdate(next)})
}

// ReleaseTorLease gives up node's lease of switch sw (holder "", next epoch), if node still
// holds it at epoch; else the error wraps ErrLeaseLost. The caller must have stopped writing to
// the switch first: another node may take it the moment this commits.
func (c *Client) ReleaseTorLease(ctx context.Context, sw, node string, epoch int) error {
	what := fmt.Sprintf("release the lease of switch %q by node %q", sw, node)
	held := TorLease{Switch: sw, Holder: node, Epoch: epoch}
	return c.leaseTransact(ctx, what, []libovsdb.Operation{leaseWait(held, false),
		leaseUpdate(TorLease{Switch: sw, Epoch: epoch + 1, Expires: time.Now()})})
}

// RemoveTorLease deletes the lease row of a switch that left the config, if node still holds
// it at epoch; else the error wraps ErrLeaseLost.
func (c *Client) RemoveTorLease(ctx context.Context, sw, node string, epoch int) error {
	what := fmt.Sprintf("remove the lease of switch %q by node %q", sw, node)
	return c.leaseTransact(ctx, what, []libovsdb.Operation{leaseWait(TorLease{Switch: sw, Holder: node, Epoch: epoch}, false),
		{Op: libovsdb.OperationDelete, Table: gatewaydb.TorLeaseTable, Where: leaseWhere(sw)}})
}

// leaseOf is switch sw's lease as the cache shows it, nil when it has none.
func (c *Client) leaseOf(sw string) *TorLease {
	for _, l := range c.TorLeases() {
		if l.Switch == sw {
			return &l
		}
	}
	return nil
}

// leaseExpiry is now + term, but always past the expiry seen, so that a renewal or a take
// always changes the row (a holder's clock stepped back must not repeat a version a taker
// timed).
func leaseExpiry(now time.Time, term time.Duration, seen *TorLease) time.Time {
	exp := now.Add(term).Truncate(time.Millisecond)
	if seen != nil && !exp.After(seen.Expires) {
		exp = seen.Expires.Add(time.Millisecond)
	}
	return exp
}

func leaseWhere(sw string) []libovsdb.Condition {
	return []libovsdb.Condition{libovsdb.NewCondition("switch", libovsdb.ConditionEqual, sw)}
}

// leaseWait checks (timeout 0) that the switch's row holds l's holder and epoch, and with
// exact its expiry too.
func leaseWait(l TorLease, exact bool) libovsdb.Operation {
	check := 0
	cols := []string{"holder", "epoch"}
	if exact {
		cols = append(cols, "expires")
	}
	row := leaseRow(l, false)
	want := libovsdb.Row{}
	for _, col := range cols {
		want[col] = row[col]
	}
	return libovsdb.Operation{Op: libovsdb.OperationWait, Table: gatewaydb.TorLeaseTable, Timeout: &check,
		Where: leaseWhere(l.Switch), Columns: cols, Until: string(libovsdb.WaitConditionEqual), Rows: []libovsdb.Row{want}}
}

func leaseUpdate(l TorLease) libovsdb.Operation {
	return libovsdb.Operation{Op: libovsdb.OperationUpdate, Table: gatewaydb.TorLeaseTable, Where: leaseWhere(l.Switch),
		Row: leaseRow(l, false)}
}

func leaseRow(l TorLease, withSwitch bool) libovsdb.Row {
	r := libovsdb.Row{"holder": l.Holder, "epoch": l.Epoch, "expires": int(l.Expires.UnixMilli())}
	if withSwitch {
		r["switch"] = l.Switch
	}
	return r
}

// leaseTransact sends ops, mapping a failed wait or a refused duplicate to ErrLeaseLost, and
// returns once the cache shows the result (the caller's next look must see its own write).
func (c *Client) leaseTransact(ctx context.Context, what string, ops []libovsdb.Operation) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	err := c.transact(ctx, what, ops)
	var timedOut *libovsdb.TimedOut
	var violation *libovsdb.ConstraintViolation
	if errors.As(err, &timedOut) || errors.As(err, &violation) {
		return fmt.Errorf("%w: %w", ErrLeaseLost, err)
	}
	if err != nil || !c.monitor {
		return err
	}
	sw := ops[len(ops)-1].Where
	if len(sw) == 0 { // an insert
		sw = leaseWhere(ops[0].Row["switch"].(string))
	}
	name := sw[0].Value.(string)
	return clientkit.WaitCache(ctx, cacheSyncTimeout, what, c.sig.Updated, func() (bool, error) {
		l := c.leaseOf(name)
		if ops[len(ops)-1].Op == libovsdb.OperationDelete {
			return l == nil, nil
		}
		row := ops[len(ops)-1].Row
		return l != nil && l.Holder == row["holder"] && l.Epoch == row["epoch"] && int(l.Expires.UnixMilli()) == row["expires"], nil
	})
}
