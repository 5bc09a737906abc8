// Package dataplane is avisim's simulated Service Engine: every enabled
// virtual service on the simulated controller answers on its VIP, built from
// the controller's objects exactly as they are stored, so a wrong object graph
// gives wrong traffic.
//
// What it serves:
//
//   - L4 virtual services (application profile type L4): TCP ports proxy bytes
//     to a pool server, UDP ports (a UDP network profile) relay datagrams to a
//     pool server and its answers back; an SSL-enabled L4 port (or an SSL
//     application profile) terminates TLS first.
//   - HTTP virtual services (type HTTP, the controller's default): HTTP and,
//     on SSL-enabled ports, HTTPS with the certificates the virtual service
//     names; an SNI parent hands a TLS connection whose SNI name equals a
//     child's vh_domain_name to that child (its certificate, policies and
//     pools), and serves every other name itself.
//   - Pool choice per connection (L4): enabled L4 policy rules in index order,
//     then service_pool_select for the port and protocol, then the virtual
//     service's pool or pool group. Per request (HTTP): enabled HTTP request
//     rules in index order (host, path, port, method, protocol, headers; all
//     given criteria must hold) with redirect, switching and local-response
//     actions, then service_pool_select, then the virtual service's pool or
//     pool group. The routing rule's hdr_action (add, replace, remove;
//     constant values) and rewrite_url_action (Host header and path from
//     host, path-segment and constant tokens; the query kept only with
//     keep_query) change the request the backend gets; actions of rules
//     that matched without routing are not applied. The first enabled HTTP
//     response rule matching the request as the client sent it applies its
//     hdr_action to the answer.
//   - Pools balance over enabled servers that their health monitors mark up
//     (least connections, round robin, random, consistent hash; the other
//     algorithms as least connections; server ratios honoured); pool groups
//     pick the highest priority with an up pool. A consistent hash hashes the
//     client address (and port), the request URI or a request header, by
//     lb_algorithm_hash (Call-ID and custom-string hashes fall back to the
//     client address, listed as a problem). Client-IP persistence profiles
//     keep a client on its server for their timeout; other persistence types
//     are listed as problems and the pool balances without them. A pool
//     without health monitors treats its servers as up.
//   - Health monitors (TCP, HTTP, HTTPS, UDP, and PING as a TCP connect) run
//     against servers of pools that an enabled virtual service uses, at the
//     monitor's send_interval (scaled by Options.MonitorTimeScale) with its
//     receive_timeout, successful_checks and failed_checks. A new server is
//     down until it passes successful_checks checks, run back to back as the
//     controller's quickstart does.
//
// Where the controller's behaviour is uncertain the data plane models the
// case worst for the client:
//
//   - No pool selected, or the selected pool (group) has no up server: the
//     pool's fail_action, whose default FAIL_ACTION_CLOSE_CONN closes the
//     connection with a reset (UDP datagrams are dropped); an HTTP request gets
//     no answer at all. FAIL_ACTION_HTTP_LOCAL_RSP (200/503) and
//     FAIL_ACTION_HTTP_REDIRECT answer as configured.
//   - A server that refuses or drops a connection is not retried on another
//     server: the client sees the failure (a reset, or 502 for HTTP) until a
//     health monitor takes the server out.
//   - Match criteria, actions and monitor types the data plane does not
//     implement make a rule never match, or a server stay down, and are listed
//     under "problems" at /admin/dataplane.
//   - Host header matches compare the header as sent (with any ":port").
//   - A virtual service or vip with enabled false, or traffic_enabled false,
//     does not answer. With remove_listening_port_on_vs_down a virtual service
//     whose pools are all down (and that has no redirect rule) stops listening.
//
// With Options.ServersOnLoopback, pool servers outside 127.0.0.0/8 are
// reached at the loopback address with the same last three octets.
//
// VIPs inside 127.0.0.0/8 are bound directly (falling back to a mapped port
// when the address cannot be bound, e.g. a privileged port without root);
// every other VIP is served on a loopback port. /admin/dataplane (Status)
// lists "vip:port/proto → 127.0.0.1:port" for every listener, with counters
// per virtual service and pool server. Listeners follow object changes within
// a second, and every goroutine and socket of a virtual service is released
// when it goes away.
package dataplane

import (
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"
)

// Store is the controller state the data plane reads; avisim implements it.
type Store interface {
	// View calls fn with a consistent view of every stored object. Models
	// must not be kept or modified after fn returns.
	View(fn func(View))
	// Watch returns a channel that receives after writes (coalesced) and a
	// function that stops the watch.
	Watch() (<-chan struct{}, func())
}

// View is a read-only view of the stored objects.
type View interface {
	// Get returns the type ("pool", "virtualservice", ...) and model
	// (*models.Pool, ...) of the object with uuid, or "" and nil.
	Get(uuid string) (kind string, model any)
	// Each calls fn with the uuid and model of every object of kind, in
	// every tenant.
	Each(kind string, fn func(uuid string, model any))
	// TenantOf returns the tenant name of the object with uuid.
	TenantOf(uuid string) string
}

// Options configures a data plane.
type Options struct {
	// MonitorTimeScale multiplies every health monitor's send_interval and
	// receive_timeout (0 means 1). Tests use e.g. 0.05 so that System-TCP's
	// 10 s interval becomes 500 ms; the objects on the controller keep the
	// controller's values.
	MonitorTimeScale float64
	// MapHost is the loopback address non-loopback VIPs are served on
	// (default 127.0.0.1).
	MapHost string
	// ServersOnLoopback reaches a pool server with an IPv4 address outside
	// 127.0.0.0/8 at the loopback address with the same last three octets
	// (10.244.1.10 at 127.244.1.10), health monitors included. Kubernetes
	// refuses loopback addresses in EndpointSlices, so tests and demos give
	// pods addresses such as 10.244.1.10 and run their stand-ins at
	// 127.244.1.10; a wrong address in a pool still reaches nothing.
	ServersOnLoopback bool
	// Logf receives listener and health events; nil discards them.
	Logf func(format string, args ...any)
}

// portUse remembers the loopback port a VIP port was served on, so that it
// keeps it when its listener comes back (0: served directly).
type portUse struct {
	port int
	vs   string
}

// debounce is how long a sync waits after the first change it sees, so that
// a burst of writes (a virtual service with its pools and VsVip) becomes one
// rebuild; listeners still follow changes well within a second.
const debounce = 25 * time.Millisecond

// DataPlane serves the virtual services of a Store.
type DataPlane struct {
	store Store
	opts  Options

	stopWatch func()
	changes   <-chan struct{}
	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex // guards everything below
	closed    bool
	listeners map[lkey]*listener
	lastPort  map[lkey]portUse
	pools     map[string]*poolState // by pool uuid
	vsStats   map[string]*counters  // by virtual service uuid
	checkers  map[ckey]*checker
	certs     map[string]certEntry // by sslkeyandcertificate uuid
	status    Status               // as of the last sync, without counters
	built     *build

	syncs atomic.Uint64

	proxy    *http.Transport // plain HTTP to pool servers
	proxyTLS *http.Transport // pools with an SSL profile (re-encryption)
	rpOnce   sync.Once
	rp       *httputil.ReverseProxy
}

// New starts a data plane over store. Close releases it.
func New(store Store, opts Options) *DataPlane {
	if opts.MonitorTimeScale <= 0 {
		opts.MonitorTimeScale = 1
	}
	if opts.MapHost == "" {
		opts.MapHost = "127.0.0.1"
	}
	d := &DataPlane{
		store:     store,
		opts:      opts,
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		listeners: map[lkey]*listener{},
		lastPort:  map[lkey]portUse{},
		pools:     map[string]*poolState{},
		vsStats:   map[string]*counters{},
		checkers:  map[ckey]*checker{},
		certs:     map[string]certEntry{},
	}
	d.proxy, d.proxyTLS = newTransports()
	d.changes, d.stopWatch = store.Watch()
	d.sync()
	go d.loop()
	return d
}

// Close stops every listener, connection and health monitor.
func (d *DataPlane) Close() {
	d.closeOnce.Do(func() {
		d.stopWatch()
		close(d.stop)
		<-d.done
		d.mu.Lock()
		d.closed = true
		ls := d.listeners
		d.listeners = map[lkey]*listener{}
		cs := d.checkers
		d.checkers = map[ckey]*checker{}
		d.mu.Unlock()
		for _, l := range ls {
			l.close()
		}
		for _, c := range cs {
			c.stop()
		}
		d.proxy.CloseIdleConnections()
		d.proxyTLS.CloseIdleConnections()
	})
}

// Syncs returns how many times the data plane has rebuilt itself from the
// store, for tests that wait for a change to be applied.
func (d *DataPlane) Syncs() uint64 { return d.syncs.Load() }

func (d *DataPlane) logf(format string, args ...any) {
	if d.opts.Logf != nil {
		d.opts.Logf(format, args...)
	}
}

// requestSync asks the loop for a rebuild (health transitions change which
// virtual services listen).
func (d *DataPlane) requestSync() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *DataPlane) loop() {
	defer close(d.done)
	for {
		select {
		case <-d.stop:
			return
		case <-d.changes:
		case <-d.kick:
		}
		t := time.NewTimer(debounce)
	wait:
		for {
			select {
			case <-d.stop:
				t.Stop()
				return
			case <-d.changes:
			case <-d.kick:
			case <-t.C:
				break wait
			}
		}
		d.sync()
	}
}
