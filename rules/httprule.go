package rules

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

// ValidateHTTPRule checks an HTTPRule: its FQDN, that no older HTTPRule sets
// the same path of the same FQDN, the algorithm/hash pairs, re-encryption
// (a PKI profile or a CA, not both) and every controller object it names.
// old is nil on create and for the reconciler; on update, problems the
// previous version already had only warn (see ValidateHostRule).
func ValidateHTTPRule(hr, old *v1beta1.HTTPRule, env Env) Result {
	res := validateHTTPRule(hr, env)
	if old != nil {
		ratchet(&res, validateHTTPRule(old, env))
	}
	return res
}

func validateHTTPRule(hr *v1beta1.HTTPRule, env Env) Result {
	var res Result
	fp := field.NewPath("spec", "fqdn")
	if hr.Spec.Fqdn == "" {
		res.Errors = append(res.Errors, field.Required(fp, "name the host whose paths the rule applies to"))
	} else {
		res.Errors = append(res.Errors, checkHost(fp, hr.Spec.Fqdn)...)
		checkHostServed(&res, fp, hr.Spec.Fqdn, hr.Namespace, env)
	}
	pp := field.NewPath("spec", "paths")
	seen := map[string]bool{}
	var refs []objRef
	for i, path := range hr.Spec.Paths {
		p := pp.Index(i)
		if seen[path.Target] {
			res.Errors = append(res.Errors, field.Duplicate(p.Child("target"), path.Target))
		}
		seen[path.Target] = true
		if lb := path.LoadBalancerPolicy; lb != nil {
			checkHTTPRuleLB(&res, p.Child("loadBalancerPolicy"), lb)
		}
		for j, hm := range path.HealthMonitors {
			refs = append(refs, objRef{path: p.Child("healthMonitors").Index(j), typ: inventory.TypeHealthMonitor, name: hm,
				kinds: monitorKinds["TCP"], use: "a pool of HTTP servers (TCP)"})
		}
		refs = append(refs, objRef{path: p.Child("applicationPersistence"), typ: inventory.TypePersistenceProfile, name: path.ApplicationPersistence,
			kinds: httpPersistence, use: "an HTTP pool"})
		if t := path.TLS; t != nil {
			tp := p.Child("tls")
			refs = append(refs, objRef{path: tp.Child("sslProfile"), typ: inventory.TypeSSLProfile, name: t.SSLProfile,
				kinds: []string{sslProfileApplication}, use: "TLS to the pool's servers"},
				objRef{path: tp.Child("pkiProfile"), typ: inventory.TypePKIProfile, name: t.PKIProfile})
			switch {
			case t.PKIProfile != "" && t.DestinationCA != "":
				res.Errors = append(res.Errors, field.Invalid(tp.Child("destinationCA"), "<PEM>",
					"set either pkiProfile or destinationCA, not both: each says which CA the pool's server certificates must chain to"))
			case t.DestinationCA != "" && !pemCertificates(t.DestinationCA):
				res.Errors = append(res.Errors, field.Invalid(tp.Child("destinationCA"), "<PEM>",
					"is not a PEM certificate; paste the CA certificate (-----BEGIN CERTIFICATE----- ...) that signs the pool's server certificates"))
			case t.DestinationCA != "":
				// Re-encrypting without checking the servers' certificates
				// would look like what was asked and not be it.
				res.Errors = append(res.Errors, field.Invalid(tp.Child("destinationCA"), "<PEM>",
					"vipgate does not create PKI profiles from a CA in the rule; create a PKI profile with this CA on the controller and name it in pkiProfile"))
			}
		}
	}
	checkHTTPRuleHolders(&res, pp, hr, env)
	checkRefs(&res, env.settings().ControllerSettings.TenantName, refs, env)
	return res
}

// checkHTTPRuleLB applies the algorithm/hash pairs the controller takes: a
// consistent hash needs its key (and the custom header hash its header);
// a hash or header given where it does not apply is ignored, as by AKO, and
// said so. Call-ID hashing is for SIP, which no Ingress path carries.
func checkHTTPRuleLB(res *Result, p *field.Path, lb *v1beta1.HTTPRuleLBPolicy) {
	consistent := lb.Algorithm == v1beta1.LBAlgorithmConsistentHash
	switch {
	case consistent && lb.Hash == "":
		res.Errors = append(res.Errors, field.Required(p.Child("hash"),
			fmt.Sprintf("%s hashes on a key; say which, e.g. hash: %s", v1beta1.LBAlgorithmConsistentHash, v1beta1.LBHashSourceIP)))
	case consistent && lb.Hash == v1beta1.LBHashCallID:
		res.Errors = append(res.Errors, field.Invalid(p.Child("hash"), lb.Hash,
			"hashes on SIP Call-IDs, which HTTP requests do not carry; pick another hash such as "+v1beta1.LBHashSourceIP))
	case consistent && lb.Hash == v1beta1.LBHashCustomHeader && lb.HostHeader == "":
		res.Errors = append(res.Errors, field.Required(p.Child("hostHeader"),
			fmt.Sprintf("hash %s hashes on the value of one request header; name it here", v1beta1.LBHashCustomHeader)))
	case !consistent && lb.Hash != "":
		res.Warn(fmt.Sprintf("%s: applies only with algorithm %s; %q is ignored", p.Child("hash"), v1beta1.LBAlgorithmConsistentHash, lb.Hash))
	}
	if lb.HostHeader != "" && (!consistent || lb.Hash != v1beta1.LBHashCustomHeader) {
		res.Warn(fmt.Sprintf("%s: applies only with hash %s; %q is ignored", p.Child("hostHeader"), v1beta1.LBHashCustomHeader, lb.HostHeader))
	}
}

// checkHTTPRuleHolders refuses a path of the FQDN that an older HTTPRule
// already sets: one rule decides each pool. A rule being deleted sets none.
func checkHTTPRuleHolders(res *Result, pp *field.Path, hr *v1beta1.HTTPRule, env Env) {
	if hr.Spec.Fqdn == "" || len(hr.Spec.Paths) == 0 {
		return
	}
	others, err := env.lookups().HTTPRulesByHost(env.ctx(), hr.Spec.Fqdn)
	if err != nil {
		res.Warn(fmt.Sprintf("%s: %s", field.NewPath("spec", "fqdn"), couldNotCheck("which HTTPRules set paths of "+hr.Spec.Fqdn, err)))
		return
	}
	slices.SortFunc(others, func(a, b *v1beta1.HTTPRule) int {
		if olderRule(a, b) {
			return -1
		}
		return 1
	})
	for i, path := range hr.Spec.Paths {
		for _, o := range others {
			if sameObject(o, hr) || !olderRule(o, hr) || o.Spec.Fqdn != hr.Spec.Fqdn || o.DeletionTimestamp != nil {
				continue
			}
			if slices.ContainsFunc(o.Spec.Paths, func(x v1beta1.HTTPRulePath) bool { return x.Target == path.Target }) {
				res.Errors = append(res.Errors, field.Invalid(pp.Index(i).Child("target"), path.Target,
					fmt.Sprintf("HTTPRule %s/%s already sets path %s of host %s; a path takes one HTTPRule, so edit that one, or remove the path there first",
						o.Namespace, o.Name, path.Target, hr.Spec.Fqdn)))
				break
			}
		}
	}
}

// monitorKinds are the health monitor types that can check a pool, by the
// pool's protocol (a UDP monitor cannot judge a TCP server, and so on).
var monitorKinds = map[string][]string{
	"TCP":  {"HEALTH_MONITOR_TCP", "HEALTH_MONITOR_HTTP", "HEALTH_MONITOR_HTTPS", "HEALTH_MONITOR_PING", "HEALTH_MONITOR_EXTERNAL"},
	"UDP":  {"HEALTH_MONITOR_UDP", "HEALTH_MONITOR_DNS", "HEALTH_MONITOR_PING", "HEALTH_MONITOR_EXTERNAL", "HEALTH_MONITOR_RADIUS", "HEALTH_MONITOR_SIP"},
	"SCTP": {"HEALTH_MONITOR_SCTP", "HEALTH_MONITOR_PING", "HEALTH_MONITOR_EXTERNAL"},
}

// httpPersistence are the persistence types an HTTP pool can use (GSLB
// site persistence is for GSLB pools only).
var httpPersistence = []string{"PERSISTENCE_TYPE_CLIENT_IP_ADDRESS", "PERSISTENCE_TYPE_HTTP_COOKIE", "PERSISTENCE_TYPE_TLS",
	"PERSISTENCE_TYPE_CLIENT_IPV6_ADDRESS", "PERSISTENCE_TYPE_CUSTOM_HTTP_HEADER", "PERSISTENCE_TYPE_APP_COOKIE"}

// pemCertificates reports whether s holds at least one PEM certificate, and only those.
func pemCertificates(s string) bool {
	rest := []byte(s)
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return false
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return false
		}
		n++
	}
	return n > 0
}
