package avisim

import (
	"math/rand"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Faults injects controller misbehaviour. All setters are safe for
// concurrent use and take effect on the next request.
type Faults struct {
	mu          sync.Mutex
	latency     time.Duration
	errorRate   float64
	errorStatus int
	rng         *rand.Rand
	conflicts   map[string]int // kind -> remaining 409 answers
	lost        map[string]int // kind -> remaining writes done whose answer is lost
	downUntil   time.Time
	sessions    *sessions
	// named maps a name fragment to the status every call about an object
	// whose name contains it is answered with (see FailNamed).
	named map[string]int
	// kinds maps an object type to the status every call on it gets (FailKind).
	kinds map[string]int
}

func newFaults(ss *sessions) *Faults {
	return &Faults{errorStatus: http.StatusServiceUnavailable, rng: rand.New(rand.NewSource(1)), conflicts: map[string]int{}, sessions: ss}
}

// SetLatency delays every non-admin request by d (0 disables).
func (f *Faults) SetLatency(d time.Duration) {
	f.mu.Lock()
	f.latency = d
	f.mu.Unlock()
}

// SetErrorRate makes the given fraction (0..1) of /api object calls fail
// with the error status (503 by default). The draw is pseudo-random from a
// fixed seed, so a test run is reproducible; see SetErrorSeed.
func (f *Faults) SetErrorRate(rate float64) {
	f.mu.Lock()
	f.errorRate = rate
	f.mu.Unlock()
}

// SetErrorSeed reseeds the pseudo-random error draw.
func (f *Faults) SetErrorSeed(seed int64) {
	f.mu.Lock()
	f.rng = rand.New(rand.NewSource(seed))
	f.mu.Unlock()
}

// SetErrorStatus chooses the status of injected errors. alb-sdk retries
// 502/503/504 (and 419) up to three times with a controller status check
// in between, but returns a 500 to the caller at once.
func (f *Faults) SetErrorStatus(code int) {
	f.mu.Lock()
	f.errorStatus = code
	f.mu.Unlock()
}

// ExpireSessions invalidates every session, so the next call of each client
// gets 401 and alb-sdk logs in again.
func (f *Faults) ExpireSessions() { f.sessions.expireAll() }

// ConflictOnce makes the next write (POST/PUT/PATCH/DELETE) on the given
// object type answer 409 once.
func (f *Faults) ConflictOnce(kind string) {
	f.mu.Lock()
	f.conflicts[kind]++
	f.mu.Unlock()
}

// Down makes the whole controller (login, API, cluster status) answer 503
// for d, as during a controller restart or leader change.
func (f *Faults) Down(d time.Duration) {
	f.mu.Lock()
	f.downUntil = time.Now().Add(d)
	f.mu.Unlock()
}

// FailNamed makes every /api call about an object whose name contains
// fragment fail with status (0 clears it): collection reads filtered by such
// a name (name, name.contains), reads, writes and deletes of such an object,
// and creates of one. It targets one owner (say one L7 shard) while the rest
// of the controller works.
func (f *Faults) FailNamed(fragment string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.named == nil {
		f.named = map[string]int{}
	}
	if status == 0 {
		delete(f.named, fragment)
		return
	}
	f.named[fragment] = status
}

// FailKind makes every /api call on objects of one type fail with status
// (0 clears it), e.g. "network" so the inventory cannot load while virtual
// services still can be written.
func (f *Faults) FailKind(kind string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kinds == nil {
		f.kinds = map[string]int{}
	}
	if status == 0 {
		delete(f.kinds, kind)
		return
	}
	f.kinds[kind] = status
}

// kindError returns the status for a call on kind, or 0.
func (f *Faults) kindError(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.kinds[kind]
}

// hasNamed reports whether FailNamed is in force (only then are names looked at).
func (f *Faults) hasNamed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.named) > 0
}

// namedError returns the status for a call about names, or 0.
func (f *Faults) namedError(names ...string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for frag, code := range f.named {
		for _, n := range names {
			if n != "" && strings.Contains(n, frag) {
				return code
			}
		}
	}
	return 0
}

// Reset clears every fault.
func (f *Faults) Reset() {
	f.mu.Lock()
	f.latency, f.errorRate, f.errorStatus = 0, 0, http.StatusServiceUnavailable
	f.named, f.kinds = nil, nil
	f.conflicts = map[string]int{}
	f.lost = nil
	f.downUntil = time.Time{}
	f.mu.Unlock()
}

// FaultState is the JSON view of the faults (GET /admin/faults).
type FaultState struct {
	LatencyMS    int64          `json:"latency_ms"`
	ErrorRate    float64        `json:"error_rate"`
	ErrorStatus  int            `json:"error_status"`
	ConflictOnce map[string]int `json:"conflict_once"`
	DownMS       int64          `json:"down_ms"`
}

// FaultRequest is the body of POST /admin/faults. Only the fields present
// change; reset clears everything first.
type FaultRequest struct {
	Reset          bool     `json:"reset,omitempty"`
	LatencyMS      *int64   `json:"latency_ms,omitempty"`
	ErrorRate      *float64 `json:"error_rate,omitempty"`
	ErrorStatus    *int     `json:"error_status,omitempty"`
	ErrorSeed      *int64   `json:"error_seed,omitempty"`
	ConflictOnce   []string `json:"conflict_once,omitempty"`
	DownMS         *int64   `json:"down_ms,omitempty"`
	ExpireSessions bool     `json:"expire_sessions,omitempty"`
}

// State returns the current faults.
func (f *Faults) State() FaultState {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := FaultState{LatencyMS: f.latency.Milliseconds(), ErrorRate: f.errorRate, ErrorStatus: f.errorStatus, ConflictOnce: map[string]int{}}
	for k, v := range f.conflicts {
		st.ConflictOnce[k] = v
	}
	if d := time.Until(f.downUntil); d > 0 {
		st.DownMS = d.Milliseconds()
	}
	return st
}

// Apply sets the faults described by req (the admin endpoint's body).
func (f *Faults) Apply(req FaultRequest) {
	if req.Reset {
		f.Reset()
	}
	if req.LatencyMS != nil {
		f.SetLatency(time.Duration(*req.LatencyMS) * time.Millisecond)
	}
	if req.ErrorRate != nil {
		f.SetErrorRate(*req.ErrorRate)
	}
	if req.ErrorStatus != nil {
		f.SetErrorStatus(*req.ErrorStatus)
	}
	if req.ErrorSeed != nil {
		f.SetErrorSeed(*req.ErrorSeed)
	}
	for _, k := range req.ConflictOnce {
		f.ConflictOnce(k)
	}
	if req.DownMS != nil {
		f.Down(time.Duration(*req.DownMS) * time.Millisecond)
	}
	if req.ExpireSessions {
		f.ExpireSessions()
	}
}

func (f *Faults) isDown() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.downUntil.IsZero() && time.Now().Before(f.downUntil)
}

func (f *Faults) delay() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.latency
}

// injectedError returns the status to fail this call with, or 0.
func (f *Faults) injectedError() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.errorRate <= 0 {
		return 0
	}
	if f.rng.Float64() < f.errorRate {
		return f.errorStatus
	}
	return 0
}

// LoseAnswers makes the next n writes (POST, PUT, DELETE) on objects of kind
// take effect while the client gets 504 Gateway Timeout, as when a real
// controller finishes a request whose answer a proxy or a client timeout
// loses: the client cannot tell whether the write happened.
func (f *Faults) LoseAnswers(kind string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lost == nil {
		f.lost = map[string]int{}
	}
	f.lost[kind] += n
}

// takeLost reports whether this write's answer is to be lost.
func (f *Faults) takeLost(kind string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lost[kind] > 0 {
		f.lost[kind]--
		return true
	}
	return false
}

func (f *Faults) takeConflict(kind string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conflicts[kind] > 0 {
		f.conflicts[kind]--
		return true
	}
	return false
}

// counters counts API calls by "METHOD type".
type counters struct {
	mu     sync.RWMutex
	counts map[string]*atomic.Int64
	writes atomic.Int64
	// objects counts writes (PUT, PATCH, DELETE) by "type/uuid".
	objMu   sync.Mutex
	objects map[string]int
}

// incObject counts one write to an existing object.
func (c *counters) incObject(kind, uuid string) {
	c.objMu.Lock()
	if c.objects == nil {
		c.objects = map[string]int{}
	}
	c.objects[kind+"/"+uuid]++
	c.objMu.Unlock()
}

func (c *counters) objectWrites() map[string]int {
	c.objMu.Lock()
	defer c.objMu.Unlock()
	out := make(map[string]int, len(c.objects))
	for k, v := range c.objects {
		out[k] = v
	}
	return out
}

func (c *counters) inc(method, kind string) {
	key := method + " " + kind
	c.mu.RLock()
	n := c.counts[key]
	c.mu.RUnlock()
	if n == nil {
		c.mu.Lock()
		if n = c.counts[key]; n == nil {
			n = new(atomic.Int64)
			c.counts[key] = n
		}
		c.mu.Unlock()
	}
	n.Add(1)
	if method != http.MethodGet {
		c.writes.Add(1)
	}
}

func (c *counters) snapshot() map[string]int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		if n := v.Load(); n > 0 {
			out[k] = int(n)
		}
	}
	return out
}

func (c *counters) reset() {
	c.mu.Lock()
	c.counts = map[string]*atomic.Int64{}
	c.writes.Store(0)
	c.mu.Unlock()
	c.objMu.Lock()
	c.objects = nil
	c.objMu.Unlock()
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
