package freeport

import (
	"fmt"
	"net"
	"testing"
)

func TestParseLow(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"32768\t60999\n", 32768},
		{"40000 60999", 40000},
		{"1024 65535", 32768}, // no room below it: the default
		{"", 32768},
		{"x 1", 32768},
	} {
		if got := parseLow(c.in); got != c.want {
			t.Errorf("parseLow(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestLoopbackIsBelowTheEphemeralRangeAndFree: the port can be bound, it is
// one an outgoing connection is never given, and no port is handed out twice.
func TestLoopbackIsBelowTheEphemeralRangeAndFree(t *testing.T) {
	top := ephemeralLow()
	seen := map[int]bool{}
	for range 200 {
		p, err := Loopback()
		if err != nil {
			t.Fatal(err)
		}
		if p < low || p >= top {
			t.Fatalf("port %d outside [%d, %d)", p, low, top)
		}
		// Ports chosen before the first is bound must differ.
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		l.Close()
	}
}
