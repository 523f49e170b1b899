package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ovsgw/ovsgw/gateway/control"
	"github.com/ovsgw/ovsgw/ovsdb/configdb"
	"github.com/ovsgw/ovsgw/test/testbed"
)

// The simulated peers of the idle window.
const (
	// peerBindings is how many Binding rows each peer publishes (local VMIs of its own, not in
	// the gateway's config), once, before the window.
	peerBindings = 2
	// connectTimeout bounds the peers' connection to the config DB.
	connectTimeout = 30 * time.Second
	// idleSlice divides the idle window: /proc counts CPU in 10 ms ticks, so a 5 s slice
	// resolves 0.2 % of a core, and a 60 s window has 12 slices, of which the agent's resync
	// (every 120 s by default) may touch two.
	idleSlice = 5 * time.Second
)

// idleResult is the agent's CPU over a window in which nothing but heartbeats happened.
type idleResult struct {
	window      time.Duration
	cpu         float64 // agent CPU seconds (user + system) over the window
	peers       int
	heartbeats  int       // peer heartbeats written during the window
	failures    int       // peer writes that failed
	generations int       // config generations the agent went through during the window
	slices      []float64 // % of a core in each idleSlice of the window
}

func (i *idleResult) percent() float64 { return 100 * i.cpu / i.window.Seconds() }

// medianSlice is the agent's CPU in the median slice of the window, % of a core.
func (i *idleResult) medianSlice() float64 { return median(i.slices) }

// measureIdle lets peers simulated peer nodes heartbeat into the config DB, as agents do
// (configdb.HeartbeatInterval, spread evenly over the interval), each after publishing a few
// bindings, and measures the agent's CPU over window from /proc/PID/stat. The window starts
// once every peer has published and one heartbeat interval more has passed, so that what
// the agent does about new peers and bindings is over; the agent's status is not polled
// during the window (serving it would be counted).
func measureIdle(t *runT, a *testbed.Agent, db *testbed.ConfigDB, peers int, window time.Duration) *idleResult {
	res := &idleResult{window: window, peers: peers}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	client, err := configdb.Connect(ctx, []string{db.Endpoint})
	cancel()
	if err != nil {
		t.Fatalf("simulated peers: %v", err)
	}
	defer client.Close()
	name := func(p int) string { return fmt.Sprintf("peer%02d", p) }
	node := func(p int) configdb.NodeState {
		// A documentation address (TEST-NET-1): it is only a column of the peer's row.
		return configdb.NodeState{Hostname: name(p), TunnelIP: fmt.Sprintf("192.0.2.%d", p+1), InterfacesLimit: 4352}
	}
	publish := func(what string, f func(context.Context) error) bool {
		ctx, cancel := context.WithTimeout(context.Background(), configdb.HeartbeatInterval)
		defer cancel()
		if err := f(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "  simulated peers: %s: %v\n", what, err)
			return false
		}
		return true
	}
	for p := 0; p < peers; p++ {
		var list []configdb.BindingState
		for v := 0; v < peerBindings; v++ {
			list = append(list, configdb.BindingState{VMI: fmt.Sprintf("%s-vm%d", name(p), v), Kind: configdb.BindingLocal,
				Port: fmt.Sprintf("tap%d", v), Role: configdb.RoleActive})
		}
		ok := publish("publish node "+name(p), func(ctx context.Context) error { return client.PublishNode(ctx, node(p)) }) &&
			publish("publish bindings of "+name(p), func(ctx context.Context) error { return client.PublishBindings(ctx, name(p), list) })
		if !ok {
			t.Fatalf("simulated peers cannot write into the config DB")
		}
	}

	// Heartbeats: one peer every HeartbeatInterval/peers, each peer every HeartbeatInterval.
	var mu sync.Mutex
	counting := false
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(configdb.HeartbeatInterval / time.Duration(max(peers, 1)))
		defer tick.Stop()
		for p := 0; ; p = (p + 1) % max(peers, 1) {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			ok := publish("heartbeat of "+name(p), func(ctx context.Context) error { return client.PublishNode(ctx, node(p)) })
			mu.Lock()
			if counting {
				res.heartbeats++
				if !ok {
					res.failures++
				}
			}
			mu.Unlock()
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	time.Sleep(2 * configdb.HeartbeatInterval)
	gen0 := configGeneration(t, a)
	_, cpu0 := procStats(t, a.Proc.Pid)
	mu.Lock()
	counting = true
	mu.Unlock()
	fmt.Fprintf(os.Stderr, "  idle window of %v, %d peers heartbeating\n", window, peers)
	profiled := make(chan struct{})
	if idleProfile != "" {
		go func() { saveProfile(a, idleProfile, window); close(profiled) }()
	} else {
		close(profiled)
	}
	// The agent stops after this returns: not before its profile is in.
	defer func() { <-profiled }()
	// CPU per slice of the window as well as over all of it: the median slice is the steady
	// cost (heartbeats), without the spikes of the periodic resync.
	began, cpu1, last := time.Now(), cpu0, time.Duration(0)
	for last < window {
		time.Sleep(time.Until(began.Add(min(last+idleSlice, window))))
		_, cpu := procStats(t, a.Proc.Pid)
		now := time.Since(began)
		res.slices = append(res.slices, 100*(cpu-cpu1)/(now-last).Seconds())
		cpu1, last = cpu, now
	}
	res.window = last
	mu.Lock()
	counting = false
	mu.Unlock()
	res.cpu = cpu1 - cpu0
	res.generations = configGeneration(t, a) - gen0
	return res
}

// idleProfile is where --profile-idle saves the agent's CPU profile of the idle window.
var idleProfile string

// saveProfile writes the agent's CPU profile over window to file (the bench goes on if it fails).
func saveProfile(a *testbed.Agent, file string, window time.Duration) {
	f, err := os.Create(file)
	if err != nil {
		fmt.Fprintf(os.Stderr, "  profile: %v\n", err)
		return
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), window+time.Minute)
	defer cancel()
	if err := control.NewClient(a.Socket).Profile(ctx, "cpu", int(window.Seconds()), f); err != nil {
		fmt.Fprintf(os.Stderr, "  profile: %v\n", err)
	}
}

func configGeneration(t *runT, a *testbed.Agent) int {
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	s, err := control.NewClient(a.Socket).StatusBrief(ctx)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return s.ConfigGeneration
}
