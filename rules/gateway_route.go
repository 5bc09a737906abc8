package rules

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/ownership"
)

// Route condition reasons vipgate sets (Gateway API's).
const (
	ReasonNotAllowedByListeners      = string(gatewayv1.RouteReasonNotAllowedByListeners)
	ReasonNoMatchingListenerHostname = string(gatewayv1.RouteReasonNoMatchingListenerHostname)
	ReasonNoMatchingParent           = string(gatewayv1.RouteReasonNoMatchingParent)
)

// ListenerAttachment is a route attached to one listener and the hostnames
// it answers for there (none: any host).
type ListenerAttachment struct {
	Listener int
	Hosts    []string
}

// RefersTo reports whether a parentRef names the Gateway (group and kind
// default to Gateway API's Gateway, namespace to the route's).
func RefersTo(ref gatewayv1.ParentReference, routeNS string, gw *gatewayv1.Gateway) bool {
	if (ref.Group != nil && *ref.Group != gatewayv1.GroupName) || (ref.Kind != nil && *ref.Kind != "Gateway") {
		return false
	}
	ns := routeNS
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	return ns == gw.Namespace && string(ref.Name) == gw.Name
}

// AttachRoute decides which listeners of gw a route of kind attaches to
// through ref: those ref selects (sectionName, port) that allow the kind
// and the route's namespace, and whose hostname intersects the route's
// hostnames. When none does, reason and message say why (the route's
// Accepted=False condition). routeNS is the route's Namespace (for
// allowedRoutes selectors; may be nil when unknown).
func AttachRoute(kind string, routeNS *corev1.Namespace, namespace string, hostnames []gatewayv1.Hostname, ref gatewayv1.ParentReference, gw *gatewayv1.Gateway) (out []ListenerAttachment, reason, message string) {
	selected, allowed := 0, 0
	for i, l := range gw.Spec.Listeners {
		if ref.SectionName != nil && *ref.SectionName != l.Name {
			continue
		}
		if ref.Port != nil && *ref.Port != l.Port {
			continue
		}
		selected++
		if !listenerAllows(l, kind, routeNS, namespace, gw.Namespace) {
			continue
		}
		allowed++
		lh := ""
		if l.Hostname != nil {
			lh = string(*l.Hostname)
		}
		hosts, ok := intersectHosts(lh, hostnames)
		if !ok {
			continue
		}
		out = append(out, ListenerAttachment{Listener: i, Hosts: hosts})
	}
	switch {
	case len(out) > 0:
		return out, "", ""
	case selected == 0:
		return nil, ReasonNoMatchingParent, fmt.Sprintf("Gateway %s/%s has no listener matching the parentRef's sectionName and port", gw.Namespace, gw.Name)
	case allowed == 0:
		return nil, ReasonNotAllowedByListeners, fmt.Sprintf("no listener of Gateway %s/%s allows %s routes from namespace %s", gw.Namespace, gw.Name, kind, namespace)
	}
	return nil, ReasonNoMatchingListenerHostname, fmt.Sprintf("none of the route's hostnames [%s] matches a listener hostname of Gateway %s/%s", joinHosts(hostnames), gw.Namespace, gw.Name)
}

func joinHosts(hs []gatewayv1.Hostname) string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = string(h)
	}
	return strings.Join(out, ", ")
}

// RouteKindsFor lists the route kinds a listener protocol serves.
func RouteKindsFor(p gatewayv1.ProtocolType) []string {
	switch p {
	case gatewayv1.HTTPProtocolType, gatewayv1.HTTPSProtocolType:
		return []string{"HTTPRoute"}
	case gatewayv1.TCPProtocolType:
		return []string{"TCPRoute"}
	case gatewayv1.UDPProtocolType:
		return []string{"UDPRoute"}
	}
	return nil
}

// listenerAllows applies a listener's allowedRoutes: the kinds (default:
// those of its protocol) and the namespaces (default Same).
func listenerAllows(l gatewayv1.Listener, kind string, routeNS *corev1.Namespace, namespace, gwNamespace string) bool {
	kinds := RouteKindsFor(l.Protocol)
	if ar := l.AllowedRoutes; ar != nil && len(ar.Kinds) > 0 {
		var listed []string
		for _, k := range ar.Kinds {
			if k.Group == nil || *k.Group == gatewayv1.GroupName {
				listed = append(listed, string(k.Kind))
			}
		}
		kinds = slices.DeleteFunc(listed, func(k string) bool { return !slices.Contains(RouteKindsFor(l.Protocol), k) })
	}
	if !slices.Contains(kinds, kind) {
		return false
	}
	from := gatewayv1.NamespacesFromSame
	var sel *metav1.LabelSelector
	if ar := l.AllowedRoutes; ar != nil && ar.Namespaces != nil {
		if ar.Namespaces.From != nil {
			from = *ar.Namespaces.From
		}
		sel = ar.Namespaces.Selector
	}
	switch from {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSelector:
		if sel == nil || routeNS == nil {
			return false
		}
		s, err := metav1.LabelSelectorAsSelector(sel)
		return err == nil && s.Matches(labels.Set(routeNS.Labels))
	}
	return namespace == gwNamespace
}

// intersectHosts returns the hostnames a route serves on a listener with
// hostname lh ("" for any): the route's (none means any), narrowed to those
// the listener's matches, a wildcard on one side giving way to the more
// specific name on the other. ok is false when they have nothing in common.
func intersectHosts(lh string, route []gatewayv1.Hostname) (hosts []string, ok bool) {
	if len(route) == 0 {
		if lh == "" {
			return nil, true
		}
		return []string{lh}, true
	}
	if lh == "" {
		for _, h := range route {
			hosts = append(hosts, string(h))
		}
		return hosts, true
	}
	for _, h := range route {
		r := string(h)
		switch {
		case r == lh:
			hosts = append(hosts, r)
		case covers(lh, r):
			hosts = append(hosts, r)
		case covers(r, lh):
			hosts = append(hosts, lh)
		}
	}
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)
	return hosts, len(hosts) > 0
}

// covers reports whether wildcard w ("*.example.com") matches name n (an
// exact name with at least one more label, or a narrower wildcard).
func covers(w, n string) bool {
	suffix, ok := strings.CutPrefix(w, "*")
	if !ok {
		return false
	}
	rest, found := strings.CutSuffix(strings.ToLower(n), strings.ToLower(suffix))
	return found && rest != "" && rest != "*"
}

// RouteLookups are the reads HTTPRoute admission needs besides GatewayLookups.
type RouteLookups interface {
	GatewayLookups
	// Gateway returns the named Gateway, (nil, nil) when there is none.
	Gateway(ctx context.Context, namespace, name string) (*gatewayv1.Gateway, error)
	// Service returns the named Service, (nil, nil) when there is none.
	Service(ctx context.Context, namespace, name string) (*corev1.Service, error)
}

// ValidateHTTPRoute checks an HTTPRoute that names at least one Gateway of
// vipgate's classes (others pass untouched): a backend Service in another
// namespace needs a ReferenceGrant there (refused otherwise); a backend
// Service that does not exist, and hostnames that match no listener of a
// parent Gateway, are warnings (the route may come before them).
func ValidateHTTPRoute(rt *gatewayv1.HTTPRoute, env Env, rl RouteLookups) Result {
	var res Result
	ours := false
	for i, ref := range rt.Spec.ParentRefs {
		if (ref.Group != nil && *ref.Group != gatewayv1.GroupName) || (ref.Kind != nil && *ref.Kind != "Gateway") {
			continue
		}
		ns := rt.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		gw, err := rl.Gateway(env.ctx(), ns, string(ref.Name))
		if err != nil {
			res.Warn(couldNotCheck(fmt.Sprintf("Gateway %s/%s", ns, ref.Name), err))
			continue
		}
		if gw == nil {
			continue
		}
		gc, err := rl.GatewayClass(env.ctx(), string(gw.Spec.GatewayClassName))
		if err != nil {
			res.Warn(couldNotCheck(fmt.Sprintf("GatewayClass %q", gw.Spec.GatewayClassName), err))
			continue
		}
		if gc == nil || string(gc.Spec.ControllerName) != ownership.GatewayController {
			continue
		}
		ours = true
		routeNS, err := env.lookups().Namespace(env.ctx(), rt.Namespace)
		if err != nil {
			res.Warn(couldNotCheck("Namespace "+rt.Namespace, err))
			continue
		}
		if _, reason, msg := AttachRoute("HTTPRoute", routeNS, rt.Namespace, rt.Spec.Hostnames, ref, gw); reason != "" {
			res.Warn(fmt.Sprintf("spec.parentRefs[%d]: %s; the route is not attached there (%s)", i, msg, reason))
		}
	}
	if !ours {
		return res
	}
	for _, u := range HTTPRouteUnsupported(rt) {
		res.Warn(u + "; the route is not served (Accepted=False, UnsupportedValue)")
	}
	for ri, rule := range rt.Spec.Rules {
		for bi, b := range rule.BackendRefs {
			p := field.NewPath("spec", "rules").Index(ri).Child("backendRefs").Index(bi)
			if (b.Group != nil && *b.Group != "") || (b.Kind != nil && *b.Kind != "Service") {
				res.Errors = append(res.Errors, field.NotSupported(p.Child("kind"), string(ptrOr(b.Kind, "Service")), []string{"Service"}))
				continue
			}
			ns := rt.Namespace
			if b.Namespace != nil {
				ns = string(*b.Namespace)
			}
			key := ns + "/" + string(b.Name)
			if ns != rt.Namespace {
				if !grantPermits(&res, env, rl, p, key, "HTTPRoute", rt.Namespace, "Service", ns, string(b.Name)) {
					continue
				}
			}
			svc, err := rl.Service(env.ctx(), ns, string(b.Name))
			switch {
			case err != nil:
				res.Warn(fmt.Sprintf("%s: %s", p, couldNotCheck("Service "+key, err)))
			case svc == nil:
				res.Warn(fmt.Sprintf("%s: Service %s does not exist; requests for this backend fail until it is created (ResolvedRefs=False, BackendNotFound)", p, key))
			}
		}
	}
	return res
}

func ptrOr[T any](p *T, d T) T {
	if p == nil {
		return d
	}
	return *p
}
