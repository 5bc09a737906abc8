package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// FQDNReuseStrict is the L7Settings.fqdnReusePolicy value that keeps a host in
// the namespace that claimed it first.
const FQDNReuseStrict = "Strict"

// ValidateIngress checks an Ingress of vipgate's IngressClass: hosts are DNS
// names, TLS Secrets are usable, and (under fqdnReusePolicy Strict) no host is
// already claimed from another namespace. old is nil on create.
//
// None of these checks read the controller inventory, so they hold even when
// it is stale. On update, a TLS Secret or host the Ingress already had only
// warns (ratcheting): an expiring certificate must not block editing a path.
func ValidateIngress(ing, old *networkingv1.Ingress, env Env) Result {
	var res Result
	spec := field.NewPath("spec")

	res.Errors = append(res.Errors, ValidateIngressHosts(ing)...)

	oldSecrets := map[string]bool{}
	oldHosts := map[string]bool{}
	if old != nil {
		for _, t := range old.Spec.TLS {
			oldSecrets[t.SecretName] = true
		}
		for _, r := range old.Spec.Rules {
			oldHosts[r.Host] = true
		}
	}
	for i, t := range ing.Spec.TLS {
		if t.SecretName == "" {
			continue // the default certificate (router-certs-default) serves it
		}
		checkTLSSecret(&res, spec.Child("tls").Index(i).Child("secretName"), ing, t.SecretName, oldSecrets[t.SecretName], env)
	}

	if env.settings().L7Settings.FQDNReusePolicy == FQDNReuseStrict {
		checkHostClaims(&res, ing, oldHosts, env)
	}
	checkIngressClaims(&res, ing, old, env)
	return res
}

// checkIngressClaims refuses a secure host new to the Ingress whose SNI
// virtual service name ("<cluster>--<host>") another owner holds: a host
// without a dot meets an L4 Service's name (team-web and team/web).
func checkIngressClaims(res *Result, ing, old *networkingv1.Ingress, env Env) {
	s := env.settings()
	had := map[string]bool{}
	if old != nil {
		for _, c := range IngressClaims(s.AKOSettings.ClusterName, old) {
			had[c.Name] = true
		}
	}
	for i, t := range ing.Spec.TLS {
		for j, h := range t.Hosts {
			claims := IngressClaims(s.AKOSettings.ClusterName, &networkingv1.Ingress{Spec: networkingv1.IngressSpec{TLS: []networkingv1.IngressTLS{{Hosts: []string{h}}}}})
			if had[claims[0].Name] {
				continue
			}
			checkClaims(res, field.NewPath("spec", "tls").Index(i).Child("hosts").Index(j), h, claims, s.ControllerSettings.TenantName,
				"Ingress "+ing.Namespace+"/"+ing.Name, "SNI virtual service name", "use another host name (a host without a dot becomes a virtual service name)", env)
		}
	}
}

// ValidateIngressHosts checks the hosts of spec.rules and spec.tls: DNS
// names (a leading "*." allowed), not IP addresses. It reads nothing else, so
// the reconciler runs it on every Ingress it plans.
func ValidateIngressHosts(ing *networkingv1.Ingress) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	for i, r := range ing.Spec.Rules {
		if r.Host != "" {
			errs = append(errs, checkHost(spec.Child("rules").Index(i).Child("host"), r.Host)...)
		}
	}
	for i, t := range ing.Spec.TLS {
		for j, h := range t.Hosts {
			errs = append(errs, checkHost(spec.Child("tls").Index(i).Child("hosts").Index(j), h)...)
		}
	}
	return errs
}

// checkHostClaims refuses a new host that an Ingress of another namespace
// already claims (fqdnReusePolicy Strict); hosts the Ingress had before pass.
func checkHostClaims(res *Result, ing *networkingv1.Ingress, oldHosts map[string]bool, env Env) {
	spec := field.NewPath("spec")
	seen := map[string]bool{}
	for i, r := range ing.Spec.Rules {
		if r.Host == "" || seen[r.Host] || oldHosts[r.Host] {
			continue
		}
		seen[r.Host] = true
		others, err := env.lookups().IngressesByHost(env.ctx(), r.Host)
		if err != nil {
			res.Warn(couldNotCheck(fmt.Sprintf("which Ingresses claim host %s", r.Host), err))
			continue
		}
		var claimants []string
		for _, o := range others {
			if o.Namespace != ing.Namespace {
				claimants = append(claimants, o.Namespace+"/"+o.Name)
			}
		}
		if len(claimants) == 0 {
			continue
		}
		slices.Sort(claimants)
		noun := "Ingress"
		if len(claimants) > 1 {
			noun = "Ingresses"
		}
		res.Errors = append(res.Errors, field.Invalid(spec.Child("rules").Index(i).Child("host"), r.Host,
			fmt.Sprintf("is already claimed by %s %s in another namespace, and L7Settings.fqdnReusePolicy is Strict; use another host, or remove it there first",
				noun, listNames(claimants))))
	}
}

// checkHost requires a DNS-1123 subdomain, with a leading "*." allowed (as the
// API server does for Ingress hosts): the host becomes a virtual service's FQDN.
func checkHost(p *field.Path, host string) field.ErrorList {
	if _, err := netip.ParseAddr(host); err == nil {
		return field.ErrorList{field.Invalid(p, host, "must be a DNS name, not an IP address; Ingress hosts match the HTTP Host header and TLS SNI")}
	}
	var msgs []string
	if strings.HasPrefix(host, "*") {
		msgs = validation.IsWildcardDNS1123Subdomain(host)
	} else {
		msgs = validation.IsDNS1123Subdomain(host)
	}
	if len(msgs) == 0 {
		return nil
	}
	return field.ErrorList{field.Invalid(p, host, strings.Join(msgs, "; "))}
}

// certManaged reports whether cert-manager will create or renew the Secret:
// ingress-shim issues it for an annotated Ingress, or a Certificate names it.
// A failed lookup answers yes with a warning: it only ever turns a denial
// into an admission.
func certManaged(res *Result, ing *networkingv1.Ingress, secret string, env Env) bool {
	if ing.Annotations[AnnCertManagerIssuer] != "" || ing.Annotations[AnnCertManagerClusterIssuer] != "" {
		return true
	}
	ok, err := env.lookups().CertManagerCertificateForSecret(env.ctx(), ing.Namespace, secret)
	if err != nil {
		res.Warn(couldNotCheck(fmt.Sprintf("whether a cert-manager Certificate issues Secret %s/%s", ing.Namespace, secret), err))
		return true
	}
	return ok
}

// checkTLSSecret checks one tls[] entry's Secret. Problems are errors, except
// when cert-manager will (re)issue the Secret or the Ingress already used it
// before this update: then they are warnings and the Ingress is admitted.
func checkTLSSecret(res *Result, p *field.Path, ing *networkingv1.Ingress, name string, hadBefore bool, env Env) {
	ref := ing.Namespace + "/" + name
	sum, ok, err := env.lookups().TLSSecret(env.ctx(), ing.Namespace, name)
	if err != nil {
		res.Warn(fmt.Sprintf("%s: %s", p, couldNotCheck("Secret "+ref, err)))
		return
	}
	if !ok {
		// cert-manager is asked about only when something is wrong: a usable
		// Secret needs no exception.
		switch {
		case certManaged(res, ing, name, env):
			res.Warn(fmt.Sprintf("%s: Secret %s does not exist yet; cert-manager is expected to issue it, and HTTPS for this entry starts once it does", p, ref))
		case hadBefore:
			res.Warn(fmt.Sprintf("%s: Secret %s does not exist; HTTPS for this entry is not served until it is created", p, ref))
		default:
			res.Errors = append(res.Errors, field.Invalid(p, name,
				fmt.Sprintf("Secret %s does not exist; create it (kubectl create secret tls %s -n %s --cert=<file> --key=<file>), or annotate the Ingress with %s or %s so cert-manager issues it",
					ref, name, ing.Namespace, AnnCertManagerClusterIssuer, AnnCertManagerIssuer)))
		}
		return
	}
	problem, warning := JudgeTLSSecret(ref, sum, env.Now)
	if warning != "" {
		res.Warn(fmt.Sprintf("%s: %s", p, warning))
	}
	if problem == "" {
		return
	}
	switch {
	case certManaged(res, ing, name, env):
		res.Warn(fmt.Sprintf("%s: %s (cert-manager is expected to reissue it)", p, problem))
	case hadBefore:
		res.Warn(fmt.Sprintf("%s: %s", p, problem))
	default:
		res.Errors = append(res.Errors, field.Invalid(p, name, problem))
	}
}
