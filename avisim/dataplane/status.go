package dataplane

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Status is what /admin/dataplane shows: where each VIP port is served,
// the state and counters of every virtual service and pool server, and the
// configuration problems of the last rebuild.
type Status struct {
	Listeners       []ListenerStatus `json:"listeners"`
	VirtualServices []VSStatus       `json:"virtual_services"`
	Problems        []string         `json:"problems,omitempty"`
}

// ListenerStatus is one VIP port.
type ListenerStatus struct {
	// Map is "vip:port/proto → address", the line to give curl --connect-to.
	Map      string `json:"map"`
	VIP      string `json:"vip"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"` // tcp or udp
	// Address is where the port is served: the VIP itself (Direct) or a
	// loopback port.
	Address        string `json:"address"`
	Direct         bool   `json:"direct"`
	Mode           string `json:"mode"` // L4, L4-SSL, UDP, HTTP, HTTPS
	VirtualService string `json:"virtual_service"`
	Tenant         string `json:"tenant"`
}

// VSStatus is one virtual service.
type VSStatus struct {
	Name   string `json:"name"`
	UUID   string `json:"uuid"`
	Tenant string `json:"tenant"`
	Type   string `json:"type"`
	// Parent names an SNI child's parent.
	Parent string `json:"parent,omitempty"`
	// State is up, down (no pool with an up server) or disabled.
	State    string `json:"state"`
	Counters `json:"counters"`
	Pools    []PoolStatus `json:"pools,omitempty"`
}

// PoolStatus is a pool a virtual service uses.
type PoolStatus struct {
	Name    string         `json:"name"`
	UUID    string         `json:"uuid"`
	Servers []ServerStatus `json:"servers"`
}

// ServerStatus is a pool server.
type ServerStatus struct {
	Address string `json:"address"`
	// ReachedAt is where the server is reached when that is not Address
	// (Options.ServersOnLoopback).
	ReachedAt string `json:"reached_at,omitempty"`
	// State is up, down or disabled; Reason says why a server is down.
	State    string `json:"state"`
	Reason   string `json:"reason,omitempty"`
	Counters `json:"counters"`
}

func compareAddr(a, b string) int {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	if err1 != nil || err2 != nil {
		return strings.Compare(a, b)
	}
	return x.Compare(y)
}

// Status returns the data plane as of its last rebuild, with live counters.
func (d *DataPlane) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := Status{Listeners: []ListenerStatus{}, VirtualServices: []VSStatus{}}
	b := d.built
	if b == nil {
		return st
	}
	for k, l := range d.listeners {
		vs := l.cur.Load().vs
		st.Listeners = append(st.Listeners, ListenerStatus{
			Map: k.String() + " → " + l.addr, VIP: k.ip, Port: k.port, Protocol: k.proto,
			Address: l.addr, Direct: l.direct, Mode: l.mode, VirtualService: vs.name, Tenant: vs.tenant,
		})
		if l.note != "" {
			st.Problems = append(st.Problems, l.note)
		}
	}
	slices.SortFunc(st.Listeners, func(x, y ListenerStatus) int {
		return cmp.Or(compareAddr(x.VIP, y.VIP), cmp.Compare(x.Port, y.Port), strings.Compare(x.Protocol, y.Protocol))
	})
	parents := map[*vsConf]string{}
	for _, vs := range b.vss {
		for _, c := range vs.children {
			parents[c] = vs.name
		}
	}
	for _, vs := range b.all {
		vst := VSStatus{Name: vs.name, UUID: vs.uuid, Tenant: vs.tenant, Type: vs.typ, Parent: parents[vs], State: b.state[vs.uuid], Counters: vs.stats.snapshot()}
		if vst.State != "disabled" && !b.orphans[vs.uuid] {
			// Health changes after the last rebuild count at once.
			vst.State = upDown(vs.up())
		}
		seen := map[string]bool{}
		addPool := func(p *poolConf) {
			if p == nil || seen[p.uuid] {
				return
			}
			seen[p.uuid] = true
			ps := PoolStatus{Name: p.name, UUID: p.uuid, Servers: []ServerStatus{}}
			for _, s := range p.servers {
				ss := ServerStatus{Address: s.key, Counters: s.st.counters.snapshot()}
				if s.dialIP != s.ip {
					ss.ReachedAt = s.addr(0)
				}
				switch {
				case !s.enabled || !p.enabled:
					ss.State = "disabled"
				case s.st.healthy.Load():
					ss.State = "up"
				default:
					ss.State, ss.Reason = "down", s.st.reason()
				}
				ps.Servers = append(ps.Servers, ss)
			}
			vst.Pools = append(vst.Pools, ps)
		}
		for _, t := range vs.targets {
			if t.pool != nil {
				addPool(t.pool)
				continue
			}
			for _, m := range t.group.members {
				addPool(m.pool)
			}
		}
		st.VirtualServices = append(st.VirtualServices, vst)
	}
	slices.SortFunc(st.VirtualServices, func(x, y VSStatus) int {
		return cmp.Or(strings.Compare(x.Tenant, y.Tenant), strings.Compare(x.Name, y.Name))
	})
	st.Problems = append(st.Problems, b.problems...)
	slices.Sort(st.Problems)
	st.Problems = slices.Compact(st.Problems)
	return st
}

// Lookup returns where a VIP port is served ("127.0.0.1:41234", or the VIP
// port itself when bound directly); proto is "tcp" or "udp".
func (d *DataPlane) Lookup(vip string, port int, proto string) (string, bool) {
	if a, err := netip.ParseAddr(vip); err == nil {
		vip = a.String()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	l := d.listeners[lkey{ip: vip, port: port, proto: strings.ToLower(proto)}]
	if l == nil {
		return "", false
	}
	return l.addr, true
}

// ServeHTTP serves GET /admin/dataplane: the Status as JSON, or with
// ?format=text one "vip:port/proto → address  mode  virtual service" line
// per listener.
func (d *DataPlane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = fmt.Fprintf(w, `{"error":"Method %s not allowed"}`, r.Method)
		return
	}
	st := d.Status()
	if r.URL.Query().Get("format") == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, l := range st.Listeners {
			_, _ = fmt.Fprintf(w, "%s  %s  %s\n", l.Map, l.Mode, l.VirtualService)
		}
		return
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	_, _ = w.Write(append(b, '\n'))
}

// port is the listener's local port.
func (l *listener) port() int {
	_, p, _ := net.SplitHostPort(l.addr)
	n, _ := strconv.Atoi(p)
	return n
}
