package dataplane_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/vmware/alb-sdk/go/models"

	"github.com/vipgate/vipgate/avisim/dataplane/echo"
)

// lbVS serves one pool of four backends on an HTTP virtual service and
// returns the address of port 80; edit sets the pool's algorithm and persistence.
func (e *env) lbVS(name string, edit func(*models.Pool)) string {
	e.t.Helper()
	var bs []*echo.Server
	for i := 1; i <= 4; i++ {
		bs = append(bs, backend(e.t, fmt.Sprintf("%s-%d", name, i), fmt.Sprintf("127.0.30.%d", i)))
	}
	p := &models.Pool{Name: s(name), Servers: servers(bs...)}
	edit(p)
	pool := e.create("pool", p)
	ip, _ := e.httpVS(name, func(vs *models.VirtualService) { vs.PoolRef = s("/api/pool/" + pool) }, &models.Service{Port: u32(80)})
	return e.addr(ip, 80, "tcp")
}

// backends sends n requests and returns the backend of each.
func backends(t *testing.T, n int, get func(i int) echo.Reply) []string {
	t.Helper()
	var out []string
	for i := range n {
		r := get(i)
		if r.Err != nil || r.Code != 200 {
			t.Fatalf("request %d: %v", i, r)
		}
		out = append(out, r.Answer.Backend)
	}
	return out
}

func distinct(s []string) int {
	c := slices.Clone(s)
	slices.Sort(c)
	return len(slices.Compact(c))
}

// TestConsistentHashKeys: a consistent hash sends every request with the
// same key to the same server, and different keys over several servers:
// the URI, a header, or the client address by lb_algorithm_hash.
func TestConsistentHashKeys(t *testing.T) {
	e := newEnv(t, nil)
	uri := e.lbVS("by-uri", func(p *models.Pool) {
		p.LbAlgorithm, p.LbAlgorithmHash = s("LB_ALGORITHM_CONSISTENT_HASH"), s("LB_ALGORITHM_CONSISTENT_HASH_URI")
	})
	same := backends(t, 6, func(int) echo.Reply { return echo.Get(uri, "h", "/same") })
	if distinct(same) != 1 {
		t.Errorf("one URI went to %v", same)
	}
	spread := backends(t, 24, func(i int) echo.Reply { return echo.Get(uri, "h", fmt.Sprintf("/p%d", i)) })
	if distinct(spread) < 2 {
		t.Errorf("24 URIs all went to %v", spread)
	}

	hdr := e.lbVS("by-header", func(p *models.Pool) {
		p.LbAlgorithm, p.LbAlgorithmHash, p.LbAlgorithmConsistentHashHdr = s("LB_ALGORITHM_CONSISTENT_HASH"), s("LB_ALGORITHM_CONSISTENT_HASH_CUSTOM_HEADER"), s("X-User")
	})
	user := func(v string) http.Header { return http.Header{"X-User": {v}} }
	if got := backends(t, 6, func(i int) echo.Reply { return echo.GetWithHeader(hdr, "h", fmt.Sprintf("/%d", i), user("alice")) }); distinct(got) != 1 {
		t.Errorf("one header value went to %v", got)
	}
	if got := backends(t, 24, func(i int) echo.Reply { return echo.GetWithHeader(hdr, "h", "/", user(fmt.Sprintf("u%d", i))) }); distinct(got) < 2 {
		t.Errorf("24 header values all went to %v", got)
	}

	ip := e.lbVS("by-ip", func(p *models.Pool) { p.LbAlgorithm = s("LB_ALGORITHM_CONSISTENT_HASH") })
	if got := backends(t, 6, func(i int) echo.Reply { return echo.Get(ip, "h", fmt.Sprintf("/%d", i)) }); distinct(got) != 1 {
		t.Errorf("one client address went to %v", got)
	}
}

// TestClientIPPersistence: with a client-IP persistence profile a round
// robin pool keeps one client on one server; without it, it rotates. A
// persistence type the data plane does not simulate is named as a problem.
func TestClientIPPersistence(t *testing.T) {
	e := newEnv(t, nil)
	rr := e.lbVS("rr", func(p *models.Pool) { p.LbAlgorithm = s("LB_ALGORITHM_ROUND_ROBIN") })
	if got := backends(t, 8, func(int) echo.Reply { return echo.Get(rr, "h", "/") }); distinct(got) != 4 {
		t.Errorf("round robin without persistence went to %v", got)
	}
	sticky := e.lbVS("sticky", func(p *models.Pool) {
		p.LbAlgorithm = s("LB_ALGORITHM_ROUND_ROBIN")
		p.ApplicationPersistenceProfileRef = s("/api/applicationpersistenceprofile/?name=System-Persistence-Client-IP")
	})
	if got := backends(t, 8, func(int) echo.Reply { return echo.Get(sticky, "h", "/") }); distinct(got) != 1 {
		t.Errorf("client-IP persistence went to %v", got)
	}
	e.lbVS("cookie", func(p *models.Pool) {
		p.ApplicationPersistenceProfileRef = s("/api/applicationpersistenceprofile/?name=System-Persistence-Http-Cookie")
	})
	waitFor(t, "cookie persistence listed as a problem", func() string {
		for _, p := range e.dp.Status().Problems {
			if strings.Contains(p, "pool cookie: persistence type PERSISTENCE_TYPE_HTTP_COOKIE") {
				return ""
			}
		}
		return fmt.Sprint(e.dp.Status().Problems)
	})
}
