package model

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/objects"
)

func node(name string, podCIDRs []string, ann string, ips ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}}
	n.Spec.PodCIDRs = podCIDRs
	if ann != "" {
		n.Annotations[AnnotationPodCIDRs] = ann
	}
	n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: name})
	for _, ip := range ips {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	return n
}

func TestNodeRoutes(t *testing.T) {
	tests := []struct {
		name     string
		node     *corev1.Node
		want     []string // "prefix via hop"
		wantSkip int
	}{
		{name: "spec.podCIDRs", node: node("n1", []string{"10.244.1.0/24"}, "", "192.168.1.11"),
			want: []string{"10.244.1.0/24 via 192.168.1.11"}},
		{name: "annotation when spec is empty, spaces and duplicates ignored", node: node("n1", nil, " 10.244.1.0/24, 10.245.1.0/24,10.244.1.0/24", "192.168.1.11"),
			want: []string{"10.244.1.0/24 via 192.168.1.11", "10.245.1.0/24 via 192.168.1.11"}},
		{name: "spec wins over annotation", node: node("n1", []string{"10.244.1.0/24"}, "10.9.9.0/24", "192.168.1.11"),
			want: []string{"10.244.1.0/24 via 192.168.1.11"}},
		{name: "dual stack picks the hop of each family", node: node("n1", []string{"10.244.1.0/24", "fd00:1::/64"}, "", "fd00::11", "192.168.1.11"),
			want: []string{"10.244.1.0/24 via 192.168.1.11", "fd00:1::/64 via fd00::11"}},
		{name: "unmasked CIDR is masked", node: node("n1", nil, "10.244.1.7/24", "192.168.1.11"),
			want: []string{"10.244.1.0/24 via 192.168.1.11"}},
		{name: "no InternalIP", node: node("n1", []string{"10.244.1.0/24"}, ""), wantSkip: 1},
		{name: "v6 CIDR without v6 address", node: node("n1", []string{"fd00:1::/64"}, "", "192.168.1.11"), wantSkip: 1},
		{name: "garbage annotation", node: node("n1", nil, "not-a-cidr", "192.168.1.11"), wantSkip: 1},
		{name: "no pod CIDR at all", node: node("n1", nil, "", "192.168.1.11")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, skipped := NodeRoutes(tt.node)
			var got []string
			for _, r := range rs {
				if r.Node != "n1" {
					t.Errorf("route node %q", r.Node)
				}
				got = append(got, r.Prefix.String()+" via "+r.NextHop.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("routes %v, want %v", got, tt.want)
			}
			if len(skipped) != tt.wantSkip {
				t.Errorf("skipped %v, want %d entries", skipped, tt.wantSkip)
			}
		})
	}
}

func nr(nodeName, prefix, hop string) NodeRoute {
	return NodeRoute{Node: nodeName, Prefix: netip.MustParsePrefix(prefix), NextHop: netip.MustParseAddr(hop)}
}

func TestBuildStaticRoutes(t *testing.T) {
	in := []NodeRoute{
		nr("w2", "10.244.2.0/24", "192.168.1.12"),
		nr("w1", "10.245.1.0/24", "192.168.1.11"),
		nr("w1", "10.244.1.0/24", "192.168.1.11"),
	}
	got := BuildStaticRoutes("east", in)
	b := []byte(compactJSON(t, got))
	want := `[` +
		`{"labels":[{"key":"clustername","value":"east"}],"next_hop":{"addr":"192.168.1.11","type":"V4"},"prefix":{"ip_addr":{"addr":"10.244.1.0","type":"V4"},"mask":24},"route_id":"east-w1-1"},` +
		`{"labels":[{"key":"clustername","value":"east"}],"next_hop":{"addr":"192.168.1.11","type":"V4"},"prefix":{"ip_addr":{"addr":"10.245.1.0","type":"V4"},"mask":24},"route_id":"east-w1-2"},` +
		`{"labels":[{"key":"clustername","value":"east"}],"next_hop":{"addr":"192.168.1.12","type":"V4"},"prefix":{"ip_addr":{"addr":"10.244.2.0","type":"V4"},"mask":24},"route_id":"east-w2-1"}]`
	if string(b) != want {
		t.Errorf("routes\n got %s\nwant %s", b, want)
	}
	// The order nodes are listed in does not matter.
	slices.Reverse(in)
	b2 := []byte(compactJSON(t, BuildStaticRoutes("east", in)))
	if string(b2) != string(b) {
		t.Errorf("input order changed the output:\n%s\n%s", b, b2)
	}
	if len(BuildStaticRoutes("east", nil)) != 0 {
		t.Errorf("no nodes should give no routes")
	}
}

// wire decodes JSON into the form the controller's static_routes arrive in.
func wire(t *testing.T, s string) []any {
	t.Helper()
	var out []any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

const foreignRoutes = `[
 {"route_id":"west-a-1","prefix":{"ip_addr":{"addr":"10.244.1.0","type":"V4"},"mask":24},"next_hop":{"addr":"172.16.0.1","type":"V4"},"labels":[{"key":"clustername","value":"west"}],"if_name":"eth1"},
 {"route_id":"1","prefix":{"ip_addr":{"addr":"0.0.0.0","type":"V4"},"mask":0},"next_hop":{"addr":"192.168.1.1","type":"V4"}}
]`

func routeIDs(t *testing.T, rs []any) []string {
	t.Helper()
	var out []string
	for _, r := range rs {
		out = append(out, r.(map[string]any)["route_id"].(string))
	}
	return out
}

func TestMergeStaticRoutes(t *testing.T) {
	desired := BuildStaticRoutes("east", []NodeRoute{nr("w1", "10.244.1.0/24", "192.168.1.11"), nr("w2", "10.244.2.0/24", "192.168.1.12")})

	t.Run("first sync adds ours after the others, which stay as they were", func(t *testing.T) {
		cur := wire(t, foreignRoutes)
		res, err := MergeStaticRoutes(cur, "east", desired)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || !slices.Equal(res.Added, []string{"east-w1-1", "east-w2-1"}) || len(res.Removed)+len(res.Updated) != 0 {
			t.Errorf("merge %+v", res)
		}
		if got := routeIDs(t, res.Routes); !slices.Equal(got, []string{"west-a-1", "1", "east-w1-1", "east-w2-1"}) {
			t.Errorf("route ids %v", got)
		}
		if !reflect.DeepEqual(res.Routes[:2], wire(t, foreignRoutes)) {
			t.Errorf("foreign routes changed: %v", res.Routes[:2])
		}
	})

	t.Run("in sync, in any order, is no change", func(t *testing.T) {
		merged, _ := MergeStaticRoutes(wire(t, foreignRoutes), "east", desired)
		cur := slices.Clone(merged.Routes)
		slices.Reverse(cur)
		res, err := MergeStaticRoutes(cur, "east", desired)
		if err != nil {
			t.Fatal(err)
		}
		if res.Changed {
			t.Errorf("unexpected change %+v", res)
		}
	})

	t.Run("node removed and next hop changed", func(t *testing.T) {
		merged, _ := MergeStaticRoutes(wire(t, foreignRoutes), "east", desired)
		next := BuildStaticRoutes("east", []NodeRoute{nr("w1", "10.244.1.0/24", "192.168.1.99")})
		res, err := MergeStaticRoutes(merged.Routes, "east", next)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || !slices.Equal(res.Removed, []string{"east-w2-1"}) || !slices.Equal(res.Updated, []string{"east-w1-1"}) || len(res.Added) != 0 {
			t.Errorf("merge %+v", res)
		}
		if got := routeIDs(t, res.Routes); !slices.Equal(got, []string{"west-a-1", "1", "east-w1-1"}) {
			t.Errorf("route ids %v", got)
		}
	})

	t.Run("all nodes gone removes only ours", func(t *testing.T) {
		merged, _ := MergeStaticRoutes(wire(t, foreignRoutes), "east", desired)
		res, err := MergeStaticRoutes(merged.Routes, "east", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || len(res.Removed) != 2 || !reflect.DeepEqual(res.Routes, wire(t, foreignRoutes)) {
			t.Errorf("merge %+v", res)
		}
	})

	t.Run("route id taken by someone else gets a suffix", func(t *testing.T) {
		cur := wire(t, `[{"route_id":"east-w1-1","prefix":{"ip_addr":{"addr":"10.0.0.0","type":"V4"},"mask":8},"next_hop":{"addr":"10.0.0.1","type":"V4"}}]`)
		res, err := MergeStaticRoutes(cur, "east", desired)
		if err != nil {
			t.Fatal(err)
		}
		if got := routeIDs(t, res.Routes); !slices.Equal(got, []string{"east-w1-1", "east-w1-1-v2", "east-w2-1"}) {
			t.Errorf("route ids %v", got)
		}
		if res.Renamed["east-w1-1"] != "east-w1-1-v2" {
			t.Errorf("renamed %v", res.Renamed)
		}
		// Stable: the next merge over the result changes nothing.
		again, _ := MergeStaticRoutes(res.Routes, "east", desired)
		if again.Changed {
			t.Errorf("second merge changed: %+v", again)
		}
	})

	t.Run("duplicate route of ours is rewritten once", func(t *testing.T) {
		merged, _ := MergeStaticRoutes(nil, "east", desired)
		cur := append(slices.Clone(merged.Routes), merged.Routes[0])
		res, _ := MergeStaticRoutes(cur, "east", desired)
		if !res.Changed || len(res.Routes) != 2 {
			t.Errorf("merge %+v", res)
		}
	})

	t.Run("undecodable route is an error, not a silent drop", func(t *testing.T) {
		if _, err := MergeStaticRoutes([]any{map[string]any{"route_id": 5}}, "east", desired); err == nil {
			t.Errorf("want an error")
		}
	})
}

func TestRouteOwnedBy(t *testing.T) {
	lab := func(k, v string) *objects.StaticRoute {
		return &objects.StaticRoute{Labels: []*objects.KeyValue{{Key: ptr.To(k), Value: ptr.To(v)}}}
	}
	if !RouteOwnedBy(lab("clustername", "east"), "east") || RouteOwnedBy(lab("clustername", "west"), "east") ||
		RouteOwnedBy(lab("other", "east"), "east") || RouteOwnedBy(&objects.StaticRoute{}, "east") || RouteOwnedBy(nil, "east") {
		t.Errorf("ownership by label is wrong")
	}
	if v, ok := SEGroupClusterLabel([]*objects.KeyValue{{Key: ptr.To("tier"), Value: ptr.To("edge")}, {Key: ptr.To("clustername"), Value: ptr.To("east")}}); !ok || v != "east" {
		t.Errorf("SEGroupClusterLabel = %q, %v", v, ok)
	}
	if _, ok := SEGroupClusterLabel(nil); ok {
		t.Errorf("no labels should have no cluster label")
	}
}

// compactJSON renders v on one line with object keys sorted.
func compactJSON(t *testing.T, v any) string {
	t.Helper()
	var generic any
	if err := json.Unmarshal([]byte(mustJSON(t, v)), &generic); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
