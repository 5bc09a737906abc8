package rules

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Annotations of cert-manager's gateway-shim: a Gateway carrying one has
// its listeners' certificate Secrets issued by cert-manager.
const (
	AnnGatewayIssuer        = AnnCertManagerIssuer
	AnnGatewayClusterIssuer = AnnCertManagerClusterIssuer
)

// GrantLookups reads ReferenceGrants; GatewayLookups implementations also
// implement it.
type GrantLookups interface {
	// ReferenceGrants returns the ReferenceGrants of namespace.
	ReferenceGrants(ctx context.Context, namespace string) ([]*gatewayv1.ReferenceGrant, error)
}

// grantPermits checks that a ReferenceGrant in ns lets objects of fromKind
// (Gateway API group) in fromNS refer to the core object toKind/name at p
// (key is its "ns/name"). A refusal goes to res's errors; a failed lookup
// to its warnings, never a refusal. It reports whether the reference may be
// used.
func grantPermits(res *Result, env Env, gl GrantLookups, p *field.Path, key, fromKind, fromNS, toKind, ns, name string) bool {
	grants, err := gl.ReferenceGrants(env.ctx(), ns)
	if err != nil {
		res.Warn(fmt.Sprintf("%s: %s", p, couldNotCheck("the ReferenceGrants of namespace "+ns, err)))
		return false
	}
	if !ReferencePermitted(grants, gatewayv1.GroupName, fromKind, fromNS, "", toKind, name) {
		res.Errors = append(res.Errors, field.Invalid(p, key, fmt.Sprintf(
			"%s %s is in another namespace and no ReferenceGrant in %s lets %ss of namespace %s use it; create one there (from: group %s, kind %s, namespace %s; to: group \"\", kind %s, name %s)",
			toKind, key, ns, fromKind, fromNS, gatewayv1.GroupName, fromKind, fromNS, toKind, name)))
		return false
	}
	return true
}

// ReferencePermitted reports whether a ReferenceGrant among grants (those
// of the target's namespace) lets objects of fromKind in fromNS refer to
// the target toKind/toName (group "" for core kinds).
func ReferencePermitted(grants []*gatewayv1.ReferenceGrant, fromGroup, fromKind, fromNS, toGroup, toKind, toName string) bool {
	for _, g := range grants {
		from := false
		for _, f := range g.Spec.From {
			if string(f.Group) == fromGroup && string(f.Kind) == fromKind && string(f.Namespace) == fromNS {
				from = true
			}
		}
		if !from {
			continue
		}
		for _, t := range g.Spec.To {
			if string(t.Group) == toGroup && string(t.Kind) == toKind && (t.Name == nil || string(*t.Name) == toName) {
				return true
			}
		}
	}
	return false
}

// checkListenerCerts checks the certificateRefs of each HTTPS listener: a
// Secret (the only kind supported), in the Gateway's namespace or another
// one whose ReferenceGrant allows it, existing, of type TLS with a usable
// key pair that is not expired, and valid for the listener's hostname.
// cert-manager's gateway-shim annotations turn a missing or unusable
// Secret into a warning, as for Ingress. On update only references that
// changed are judged again (ratcheting).
func checkListenerCerts(res *Result, gw, old *gatewayv1.Gateway, env Env, gl GatewayLookups) {
	managed := gw.Annotations[AnnGatewayIssuer] != "" || gw.Annotations[AnnGatewayClusterIssuer] != ""
	seen := map[string]bool{}
	if old != nil {
		for _, l := range old.Spec.Listeners {
			if l.TLS != nil {
				for _, r := range l.TLS.CertificateRefs {
					seen[string(l.Name)+"|"+certRefKey(old.Namespace, r)] = true
				}
			}
		}
	}
	for i, l := range gw.Spec.Listeners {
		if l.Protocol != gatewayv1.HTTPSProtocolType || l.TLS == nil {
			continue
		}
		host := ""
		if l.Hostname != nil {
			host = string(*l.Hostname)
		}
		for j, ref := range l.TLS.CertificateRefs {
			p := field.NewPath("spec", "listeners").Index(i).Child("tls", "certificateRefs").Index(j)
			key := certRefKey(gw.Namespace, ref)
			if seen[string(l.Name)+"|"+key] {
				continue
			}
			if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
				res.Errors = append(res.Errors, field.NotSupported(p.Child("kind"), refKind(ref), []string{"Secret"}))
				continue
			}
			ns := gw.Namespace
			if ref.Namespace != nil && string(*ref.Namespace) != gw.Namespace {
				ns = string(*ref.Namespace)
				if !grantPermits(res, env, gl, p, key, "Gateway", gw.Namespace, "Secret", ns, string(ref.Name)) {
					continue
				}
			}
			sum, found, err := env.lookups().TLSSecret(env.ctx(), ns, string(ref.Name))
			if err != nil {
				res.Warn(fmt.Sprintf("%s: %s", p, couldNotCheck("Secret "+key, err)))
				continue
			}
			problem, warning := "", ""
			if !found {
				problem = fmt.Sprintf("Secret %s does not exist; create it (kubectl create secret tls %s -n %s --cert=<file> --key=<file>), or annotate the Gateway with %s or %s so cert-manager issues it",
					key, ref.Name, ns, AnnGatewayClusterIssuer, AnnGatewayIssuer)
			} else {
				problem, warning = JudgeTLSSecret(key, sum, env.Now)
				if problem == "" && host != "" && len(sum.DNSNames) > 0 && !certCovers(sum.DNSNames, host) {
					problem = fmt.Sprintf("the certificate in Secret %s is for [%s], not for the listener's hostname %s; use a certificate issued for it", key, strings.Join(sum.DNSNames, ", "), host)
				}
			}
			if warning != "" {
				res.Warn(fmt.Sprintf("%s: %s", p, warning))
			}
			switch {
			case problem == "":
			case managed:
				res.Warn(fmt.Sprintf("%s: %s (cert-manager is expected to issue it)", p, problem))
			default:
				res.Errors = append(res.Errors, field.Invalid(p, key, problem))
			}
		}
	}
}

func certRefKey(gwNS string, r gatewayv1.SecretObjectReference) string {
	ns := gwNS
	if r.Namespace != nil {
		ns = string(*r.Namespace)
	}
	return ns + "/" + string(r.Name)
}

func refKind(r gatewayv1.SecretObjectReference) string {
	k := "Secret"
	if r.Kind != nil {
		k = string(*r.Kind)
	}
	if r.Group != nil && *r.Group != "" {
		return string(*r.Group) + "/" + k
	}
	return k
}

// certCovers reports whether a certificate for names serves host (an exact
// name or a wildcard on either side, compared case-insensitively).
func certCovers(names []string, host string) bool {
	for _, n := range names {
		if strings.EqualFold(n, host) || covers(n, host) || (strings.HasPrefix(host, "*.") && covers(n, host)) {
			return true
		}
	}
	return false
}
