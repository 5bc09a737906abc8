package main

import (
	"bytes"
	"testing"
	"time"
)

func TestStepClock(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	var out bytes.Buffer
	c := newStepClock(&out, now)

	c.end() // nothing running: prints nothing
	c.fail()
	at = at.Add(250 * time.Millisecond)
	c.begin("Starting kube-apiserver and etcd (v1.37.1, built by the project)")
	at = at.Add(3*time.Second + 420*time.Millisecond)
	c.begin("1. A Service asks for a loadBalancerIP outside every VIP network: refused at once, with a message naming the ranges")
	at = at.Add(1200 * time.Millisecond)
	c.fail()
	c.begin("2. A good Service is admitted ...")
	at = at.Add(2*time.Minute + 4*time.Second + 600*time.Millisecond)
	c.summary()
	c.end() // already closed: prints nothing more

	want := `    ✓ 3.4s
    ✗ 1.2s, not as expected
    ✓ 2m5s

Step times:
  ✓    3.4s  Starting kube-apiserver and etcd (v1.37.1, built by the project)
  ✗    1.2s  1. A Service asks for a loadBalancerIP outside every VIP network: refus…
  ✓    2m5s  2. A good Service is admitted ...
  total 2m9s
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

func TestRound(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0.0s"},
		{40 * time.Millisecond, "0.0s"},
		{1260 * time.Millisecond, "1.3s"},
		{59*time.Second + 940*time.Millisecond, "59.9s"},
		{time.Minute, "1m0s"},
		{90*time.Second + 600*time.Millisecond, "1m31s"},
	} {
		if got := round(tc.d); got != tc.want {
			t.Errorf("round(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
