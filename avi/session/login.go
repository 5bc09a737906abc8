package session

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Login backoff bounds: the first refused login pauses logins for about
// loginBackoffBase, each further one doubles the pause up to loginBackoffMax.
const (
	loginBackoffBase = time.Second
	loginBackoffMax  = time.Minute
)

// loginGate paces one client's logins. Logins go one at a time (a burst of
// expired sessions must not turn into a burst of refused logins), and after
// the controller refused one (401/403: wrong or rotated credentials) no login
// is attempted until a pause has passed. The controller locks an account out
// after a few refused logins; two replicas with stale credentials, each
// logging in on every call, would get there within seconds. The pause is
// jittered so replicas do not retry in step. A successful login, or new
// credentials, end it.
type loginGate struct {
	now    func() time.Time
	jitter func() float64 // in [0, 1)
	turn   chan struct{}  // one login at a time

	mu       sync.Mutex
	failures int       // refused logins in a row
	until    time.Time // no login before this
	status   int       // status of the last refused login
	message  string    // what the controller said then
}

func newLoginGate(now func() time.Time, jitter func() float64) *loginGate {
	if now == nil {
		now = time.Now
	}
	if jitter == nil {
		jitter = rand.Float64
	}
	return &loginGate{now: now, jitter: jitter, turn: make(chan struct{}, 1)}
}

// pause is the wait after n refused logins in a row: base doubling per
// refusal up to max, then jittered down by up to half.
func (g *loginGate) pause(n int) time.Duration {
	d := loginBackoffBase
	for i := 1; i < n && d < loginBackoffMax; i++ {
		d *= 2
	}
	d = min(d, loginBackoffMax)
	return d/2 + time.Duration(g.jitter()*float64(d/2))
}

// enter waits for the turn to log in and returns nil, after which done must
// be called with the outcome; or it returns the paused login's error.
func (g *loginGate) enter(ctx context.Context) error {
	select {
	case g.turn <- struct{}{}:
	case <-ctx.Done():
		return &Error{Op: "login", Message: "waiting to log in: " + ctx.Err().Error(), Retryable: true, Err: ctx.Err()}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if wait := g.until.Sub(g.now()); wait > 0 {
		<-g.turn
		msg := g.message
		if msg == "" {
			msg = http.StatusText(g.status)
		}
		return &Error{Op: "login", Status: g.status,
			Message: fmt.Sprintf("%s (logins paused for %s after %d refused in a row)", msg, wait.Round(time.Millisecond), g.failures)}
	}
	return nil
}

// done records the outcome of the login enter allowed: status 0 when no
// answer came (which says nothing about the credentials), else the HTTP status.
func (g *loginGate) done(status int, message string) {
	g.mu.Lock()
	switch {
	case status >= 200 && status < 300:
		g.failures, g.until = 0, time.Time{}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		g.failures++
		g.status, g.message = status, message
		g.until = g.now().Add(g.pause(g.failures))
	}
	g.mu.Unlock()
	<-g.turn
}

// reset ends a pause: the credentials changed.
func (g *loginGate) reset() {
	g.mu.Lock()
	g.failures, g.until = 0, time.Time{}
	g.mu.Unlock()
}
