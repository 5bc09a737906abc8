// Package freeport picks loopback ports for servers that start later, in
// another process or another part of a test: a port is chosen free and
// handed on, so it must not be one the kernel hands to an outgoing
// connection meanwhile.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// low is the first port Loopback draws from.
const low = 20000

// handed are the ports Loopback returned in this process: two servers
// chosen one after the other are both unbound while the second is chosen.
var handed = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// Loopback returns a TCP port free on 127.0.0.1 now, below the kernel's
// ephemeral range when it can. A port from that range ("127.0.0.1:0") is
// closed again before its server binds it, and any outgoing connection on
// the machine (the API server's clients, a test running next to this one)
// can take it in between: the server then fails with "address already in
// use". Below the range only another server choosing the same port can.
func Loopback() (int, error) {
	handed.Lock()
	defer handed.Unlock()
	top := ephemeralLow()
	for range 200 {
		port := low + rand.IntN(max(top-low, 1))
		if handed.ports[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			handed.ports[port] = true
			return port, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768
// when it cannot be read, or leaves no room below it).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	return parseLow(string(b))
}

// parseLow reads the first port of an ip_local_port_range ("32768\t60999").
func parseLow(s string) int {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= low {
		return 32768
	}
	return n
}
