package inventory

import (
	"slices"
)

// Controller object types the rule CRDs (HostRule, HTTPRule, L4Rule) name,
// as they appear in API paths.
const (
	TypeWAFPolicy              = "wafpolicy"
	TypeApplicationProfile     = "applicationprofile"
	TypeSSLProfile             = "sslprofile"
	TypeAnalyticsProfile       = "analyticsprofile"
	TypeErrorPageProfile       = "errorpageprofile"
	TypeHTTPPolicySet          = "httppolicyset"
	TypeVSDataScriptSet        = "vsdatascriptset"
	TypeSSLKeyAndCertificate   = "sslkeyandcertificate"
	TypePKIProfile             = "pkiprofile"
	TypeHealthMonitor          = "healthmonitor"
	TypePersistenceProfile     = "applicationpersistenceprofile"
	TypeNetworkProfile         = "networkprofile"
	TypeICAPProfile            = "icapprofile"
	TypeNetworkSecurityPolicy  = "networksecuritypolicy"
	TypeSecurityPolicy         = "securitypolicy"
	AdminTenant                = "admin"
	AppProfileTypeHTTP         = "APPLICATION_PROFILE_TYPE_HTTP"
	AppProfileTypeL4           = "APPLICATION_PROFILE_TYPE_L4"
	AppProfileTypeSSL          = "APPLICATION_PROFILE_TYPE_SSL"
	CertTypeCA                 = "SSL_CERTIFICATE_TYPE_CA"
	CertTypeVirtualService     = "SSL_CERTIFICATE_TYPE_VIRTUALSERVICE"
	NetProfileTypeTCPProxy     = "PROTOCOL_TYPE_TCP_PROXY"
	NetProfileTypeTCPFastPath  = "PROTOCOL_TYPE_TCP_FAST_PATH"
	NetProfileTypeUDPFastPath  = "PROTOCOL_TYPE_UDP_FAST_PATH"
	NetProfileTypeUDPProxy     = "PROTOCOL_TYPE_UDP_PROXY"
	NetProfileTypeSCTPProxy    = "PROTOCOL_TYPE_SCTP_PROXY"
	NetProfileTypeSCTPFastPath = "PROTOCOL_TYPE_SCTP_FAST_PATH"
)

// RefTypes are the types the loader reads into Snapshot.Refs.
var RefTypes = []string{
	TypeWAFPolicy, TypeApplicationProfile, TypeSSLProfile, TypeAnalyticsProfile, TypeErrorPageProfile,
	TypeHTTPPolicySet, TypeVSDataScriptSet, TypeSSLKeyAndCertificate, TypePKIProfile, TypeHealthMonitor,
	TypePersistenceProfile, TypeNetworkProfile, TypeICAPProfile, TypeNetworkSecurityPolicy, TypeSecurityPolicy,
}

// RefObject is what admission needs to know about a named controller object
// a rule CRD refers to.
type RefObject struct {
	// Kind is the field that decides whether the object is usable where it is
	// named: an application profile's type (HTTP, L4, SSL), a certificate's
	// type (CA or virtual service), a health monitor's type, a persistence
	// profile's persistence_type, a network profile's profile.type; "" for
	// types without one.
	Kind string
	// CreatedBy is the object's created_by: vipgate refuses to hand its own
	// generated objects to a rule, as AKO does.
	CreatedBy string
}

// RefTable holds the objects of one type by tenant, then name.
type RefTable map[string]map[string]RefObject

// Add records one object.
func (t RefTable) Add(tenant, name string, o RefObject) {
	m := t[tenant]
	if m == nil {
		m = map[string]RefObject{}
		t[tenant] = m
	}
	m[name] = o
}

// Ref finds a named object of objType visible from tenant: the tenant's own,
// else the admin tenant's (shared with every tenant, as on the controller).
// found is false when there is none; known is false when the snapshot has
// no list of that type (the controller refused to list it), so the caller
// cannot tell.
func (s *Snapshot) Ref(objType, tenant, name string) (o RefObject, found, known bool) {
	if s == nil {
		return RefObject{}, false, false
	}
	t, ok := s.Refs[objType]
	if !ok {
		return RefObject{}, false, false
	}
	if o, ok := t[tenant][name]; ok {
		return o, true, true
	}
	if o, ok := t[AdminTenant][name]; ok {
		return o, true, true
	}
	return RefObject{}, false, true
}

// RefNames lists the names of objType visible from tenant whose Kind is one
// of kinds (any when none), sorted: what a message can suggest instead.
// Objects whose created_by is skipCreatedBy (vipgate's own) are left out.
func (s *Snapshot) RefNames(objType, tenant, skipCreatedBy string, kinds ...string) []string {
	if s == nil {
		return nil
	}
	t := s.Refs[objType]
	var out []string
	for _, tn := range []string{tenant, AdminTenant} {
		for name, o := range t[tn] {
			if (skipCreatedBy == "" || o.CreatedBy != skipCreatedBy) && (len(kinds) == 0 || slices.Contains(kinds, o.Kind)) {
				out = append(out, name)
			}
		}
		if tenant == AdminTenant {
			break
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// FirstRefNames is RefNames cut to its first limit names, with how many
// there are in all: a message lists a few, and admission must stay fast
// when a tenant has thousands (no full sort).
func (s *Snapshot) FirstRefNames(objType, tenant, skipCreatedBy string, limit int, kinds ...string) (first []string, total int) {
	if s == nil || limit <= 0 {
		return nil, 0
	}
	t := s.Refs[objType]
	usable := func(o RefObject) bool {
		return (skipCreatedBy == "" || o.CreatedBy != skipCreatedBy) && (len(kinds) == 0 || slices.Contains(kinds, o.Kind))
	}
	for _, tn := range []string{tenant, AdminTenant} {
		for name, o := range t[tn] {
			if !usable(o) {
				continue
			}
			if own, ok := t[tenant][name]; tn != tenant && ok && usable(own) {
				continue // counted with the tenant's
			}
			total++
			if len(first) == limit && name >= first[limit-1] {
				continue
			}
			i, _ := slices.BinarySearch(first, name)
			first = slices.Insert(first, i, name)
			if len(first) > limit {
				first = first[:limit]
			}
		}
		if tenant == AdminTenant {
			break
		}
	}
	return first, total
}
