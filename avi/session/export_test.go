package session

import "time"

// WithClock makes the login backoff of clients built with o use now and
// jitter instead of the wall clock and math/rand, so tests can step through it.
func WithClock(o Options, now func() time.Time, jitter func() float64) Options {
	o.now, o.jitter = now, jitter
	return o
}
