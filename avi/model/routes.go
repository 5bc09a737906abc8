package model

// Static routes: how SEs reach pod addresses in ClusterIP mode. Each node's
// pod CIDR becomes a route in the VrfContext's static_routes with the node as
// next hop, labelled clustername=<cluster> so that only SEs of an SE group
// carrying the same label install it (several clusters can share one VRF
// with overlapping pod CIDRs). A VrfContext holds every cluster's routes, and
// hand-made ones, in one list: MergeStaticRoutes replaces only this cluster's
// part and keeps every other entry exactly as the controller returned it.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/objects"
)

const (
	// TypeVrfContext is the API type holding static routes.
	TypeVrfContext = "vrfcontext"
	// TypeSEGroup is the API type of service engine groups.
	TypeSEGroup = "serviceenginegroup"
	// ClusterLabel is the label key on routes and SE groups naming the
	// owning cluster (AKO's).
	ClusterLabel = "clustername"
	// AnnotationPodCIDRs lists a node's pod CIDRs, comma-separated, for CNIs
	// that do not fill spec.podCIDRs (AKO's annotation).
	AnnotationPodCIDRs = "ako.vmware.com/pod-cidrs"
)

// NodeRoute is one pod CIDR of one node and the address routing to it.
type NodeRoute struct {
	Node    string
	Prefix  netip.Prefix
	NextHop netip.Addr
}

// NodeRoutes returns the routes one node needs: each pod CIDR (spec.podCIDRs,
// else the ako.vmware.com/pod-cidrs annotation) via the node's InternalIP of
// the same family. Skipped lists what could not be routed and why, for one
// log line per node; a node without any pod CIDR simply has no routes.
func NodeRoutes(n *corev1.Node) (routes []NodeRoute, skipped []string) {
	cidrs, _ := PodCIDRs("", n, CNIObjects{})
	return NodeRoutesFor(n, cidrs)
}

// NodeRoutesCNI is NodeRoutes with the pod CIDRs cniPlugin assigns (see
// PodCIDRs); why a node has none is among skipped.
func NodeRoutesCNI(plugin string, n *corev1.Node, objs CNIObjects) (routes []NodeRoute, skipped []string) {
	cidrs, problem := PodCIDRs(plugin, n, objs)
	routes, skipped = NodeRoutesFor(n, cidrs)
	if problem != "" {
		skipped = append(skipped, problem)
	}
	return routes, skipped
}

// NodeRoutesFor routes cidrs, the node's pod CIDRs, via its InternalIP of
// each one's family.
func NodeRoutesFor(n *corev1.Node, cidrs []string) (routes []NodeRoute, skipped []string) {
	var v4, v6 netip.Addr
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err != nil {
			continue
		}
		if ip.Is4() && !v4.IsValid() {
			v4 = ip
		} else if ip.Is6() && !v6.IsValid() {
			v6 = ip
		}
	}
	seen := map[netip.Prefix]bool{}
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("pod CIDR %q is not a CIDR", c))
			continue
		}
		p = p.Masked()
		if seen[p] {
			continue
		}
		seen[p] = true
		hop := v4
		if p.Addr().Is6() {
			hop = v6
		}
		if !hop.IsValid() {
			skipped = append(skipped, fmt.Sprintf("pod CIDR %s has no InternalIP of its family", p))
			continue
		}
		routes = append(routes, NodeRoute{Node: n.Name, Prefix: p, NextHop: hop})
	}
	return routes, skipped
}

// RouteID is the route_id of the i-th pod CIDR of node: "<cluster>-<node>-<i>",
// unique within the VRF as long as cluster names are.
func RouteID(cluster, node string, i int) string {
	return cluster + "-" + node + "-" + strconv.Itoa(i)
}

// BuildStaticRoutes turns every node's routes into the cluster's desired
// static routes, sorted by route_id. Route ids are numbered per node in
// prefix order, so they do not depend on the order nodes are listed in.
func BuildStaticRoutes(cluster string, routes []NodeRoute) []*objects.StaticRoute {
	byNode := map[string][]NodeRoute{}
	for _, r := range routes {
		byNode[r.Node] = append(byNode[r.Node], r)
	}
	var out []*objects.StaticRoute
	for node, rs := range byNode {
		slices.SortFunc(rs, func(a, b NodeRoute) int { return cmp.Compare(a.Prefix.String(), b.Prefix.String()) })
		for i, r := range rs {
			out = append(out, &objects.StaticRoute{
				RouteID: ptr.To(RouteID(cluster, node, i+1)),
				Prefix: &objects.IPAddrPrefix{
					IPAddr: routeAddr(r.Prefix.Addr()),
					Mask:   ptr.To(int32(r.Prefix.Bits())),
				},
				NextHop: routeAddr(r.NextHop),
				Labels:  []*objects.KeyValue{{Key: ptr.To(ClusterLabel), Value: ptr.To(cluster)}},
			})
		}
	}
	slices.SortFunc(out, func(a, b *objects.StaticRoute) int { return strings.Compare(*a.RouteID, *b.RouteID) })
	return out
}

func routeAddr(a netip.Addr) *objects.IPAddr {
	t := "V4"
	if a.Is6() {
		t = "V6"
	}
	return &objects.IPAddr{Addr: ptr.To(a.String()), Type: ptr.To(t)}
}

// RouteOwnedBy reports whether a route carries clustername=<cluster>.
// Unlabelled routes belong to nobody vipgate knows and are never touched.
func RouteOwnedBy(r *objects.StaticRoute, cluster string) bool {
	if r == nil {
		return false
	}
	for _, l := range r.Labels {
		if l != nil && l.Key != nil && *l.Key == ClusterLabel && l.Value != nil && *l.Value == cluster {
			return true
		}
	}
	return false
}

// RouteMerge is the result of MergeStaticRoutes.
type RouteMerge struct {
	// Routes is the VrfContext's new static_routes in wire form: every route
	// that is not the cluster's, unchanged and in its original order, then
	// the cluster's desired routes.
	Routes []any
	// Changed says the cluster's routes differ from the current ones, i.e.
	// the VrfContext must be written.
	Changed bool
	// Added, Removed and Updated name the cluster's route_ids that changed.
	Added, Removed, Updated []string
	// Renamed maps a desired route_id to the one used instead, because a route
	// of someone else already had it.
	Renamed map[string]string
}

// MergeStaticRoutes replaces the cluster's routes in current (a VrfContext's
// static_routes as decoded JSON) with desired. Only routes labelled
// clustername=<cluster> are the cluster's; all others are kept byte for byte.
// A desired route_id already used by another route gets a "-v<n>" suffix so
// route ids stay unique in the VRF.
func MergeStaticRoutes(current []any, cluster string, desired []*objects.StaticRoute) (RouteMerge, error) {
	var res RouteMerge
	taken := map[string]bool{}
	mine := map[string]routeKey{}
	ours := 0
	for i, raw := range current {
		r, err := decodeRoute(raw)
		if err != nil {
			return res, fmt.Errorf("static_routes[%d]: %w", i, err)
		}
		if RouteOwnedBy(r, cluster) {
			ours++
			mine[ptr.Deref(r.RouteID, "")] = keyOf(r)
			continue
		}
		taken[ptr.Deref(r.RouteID, "")] = true
		res.Routes = append(res.Routes, raw)
	}
	want := map[string]routeKey{}
	for _, d := range desired {
		d := *d
		id := ptr.Deref(d.RouteID, "")
		if taken[id] {
			for n := 2; ; n++ {
				alt := id + "-v" + strconv.Itoa(n)
				if !taken[alt] {
					if res.Renamed == nil {
						res.Renamed = map[string]string{}
					}
					res.Renamed[id] = alt
					id = alt
					d.RouteID = ptr.To(alt)
					break
				}
			}
		}
		taken[id] = true
		want[id] = keyOf(&d)
		m, err := toWire(&d)
		if err != nil {
			return res, err
		}
		res.Routes = append(res.Routes, m)
	}
	for id, k := range want {
		switch cur, ok := mine[id]; {
		case !ok:
			res.Added = append(res.Added, id)
		case cur != k:
			res.Updated = append(res.Updated, id)
		}
	}
	for id := range mine {
		if _, ok := want[id]; !ok {
			res.Removed = append(res.Removed, id)
		}
	}
	slices.Sort(res.Added)
	slices.Sort(res.Removed)
	slices.Sort(res.Updated)
	// Duplicate route ids of ours (written by hand, or by an older version)
	// collapse in mine: rewriting leaves one of each.
	res.Changed = len(res.Added)+len(res.Removed)+len(res.Updated) > 0 || ours != len(mine)
	return res, nil
}

// routeKey is what makes two routes of the cluster the same route.
type routeKey struct {
	prefix, nextHop string
}

func keyOf(r *objects.StaticRoute) routeKey {
	var k routeKey
	if p := r.Prefix; p != nil && p.IPAddr != nil && p.IPAddr.Addr != nil {
		if a, err := netip.ParseAddr(*p.IPAddr.Addr); err == nil {
			if pf, err := a.Prefix(int(ptr.Deref(p.Mask, 0))); err == nil {
				k.prefix = pf.String()
			}
		}
		if k.prefix == "" {
			k.prefix = *p.IPAddr.Addr + "/" + strconv.Itoa(int(ptr.Deref(p.Mask, -1)))
		}
	}
	if h := r.NextHop; h != nil && h.Addr != nil {
		k.nextHop = *h.Addr
		if a, err := netip.ParseAddr(*h.Addr); err == nil {
			k.nextHop = a.String()
		}
	}
	return k
}

func decodeRoute(raw any) (*objects.StaticRoute, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var r objects.StaticRoute
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func toWire(r *objects.StaticRoute) (any, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// SEGroupClusterLabel returns the value of the SE group's clustername label
// and whether it has one.
func SEGroupClusterLabel(labels []*objects.KeyValue) (string, bool) {
	for _, l := range labels {
		if l != nil && l.Key != nil && *l.Key == ClusterLabel {
			return ptr.Deref(l.Value, ""), true
		}
	}
	return "", false
}
