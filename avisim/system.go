package avisim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"

	"github.com/vmware/alb-sdk/go/models"
)

// Singleton and computed resources under /api that are not stored objects.
const (
	typeSystemConfiguration = "systemconfiguration"
	typeCluster             = "cluster"
	typeDomainList          = "ipamdnsproviderprofiledomainlist"
	// sysconfUUID is the uuid of the controller's one systemconfiguration.
	sysconfUUID = "default"
)

// specialTypes are served by serveSpecial rather than the object store.
var specialTypes = map[string]bool{typeSystemConfiguration: true, typeCluster: true, typeDomainList: true}

// serveSpecial answers /api/systemconfiguration (GET, PUT, PATCH; the
// license tier lives there), /api/cluster (GET: the controller cluster's
// uuid) and /api/ipamdnsproviderprofiledomainlist?cloud_uuid= (GET: the DNS
// sub-domains of the cloud's DNS provider profile).
func (s *Sim) serveSpecial(w http.ResponseWriter, r *http.Request, tenant, typ, uuid string, q url.Values) {
	switch typ {
	case typeSystemConfiguration:
		if uuid != "" && uuid != sysconfUUID {
			writeErr(w, errf(http.StatusNotFound, "systemconfiguration object with uuid %s not found", uuid))
			return
		}
		switch r.Method {
		case http.MethodGet:
			if aerr := checkObjectParams(q); aerr != nil {
				writeErr(w, aerr)
				return
			}
			s.store.mu.RLock()
			b, err := s.store.renderSysconf(includeName(q))
			s.store.mu.RUnlock()
			if err != nil {
				writeErr(w, errf(http.StatusInternalServerError, "encoding systemconfiguration: %v", err))
				return
			}
			writeJSON(w, http.StatusOK, b)
		case http.MethodPut, http.MethodPatch:
			s.updateSysconf(w, r, tenant, q)
		default:
			writeErr(w, errf(http.StatusMethodNotAllowed, "Method %s not allowed on systemconfiguration (a singleton: GET, PUT, PATCH)", r.Method))
		}
	case typeCluster:
		if r.Method != http.MethodGet || uuid != "" {
			writeErr(w, errf(http.StatusMethodNotAllowed, "avisim serves GET /api/cluster only"))
			return
		}
		if aerr := checkObjectParams(q); aerr != nil {
			writeErr(w, aerr)
			return
		}
		st := s.store
		st.mu.RLock()
		admin := st.byName(adminTenant, kinds["tenant"], adminTenant)
		base := st.base
		st.mu.RUnlock()
		body := map[string]any{
			"name":  "cluster-0-1",
			"uuid":  s.clusterUUID,
			"url":   base + "/api/cluster",
			"nodes": []any{map[string]any{"name": s.Host(), "ip": map[string]any{"addr": "127.0.0.1", "type": "V4"}}},
		}
		if admin != nil {
			body["tenant_ref"] = st.ref("tenant", admin.uuid)
		}
		writeValue(w, http.StatusOK, body)
	case typeDomainList:
		if r.Method != http.MethodGet || uuid != "" {
			writeErr(w, errf(http.StatusMethodNotAllowed, "avisim serves GET /api/ipamdnsproviderprofiledomainlist?cloud_uuid=<uuid> only"))
			return
		}
		if aerr := checkObjectParams(q, "cloud_uuid"); aerr != nil {
			writeErr(w, aerr)
			return
		}
		cu := q.Get("cloud_uuid")
		if cu == "" {
			writeErr(w, errf(http.StatusBadRequest, "cloud_uuid is required"))
			return
		}
		domains, aerr := s.store.domains(tenant, cu)
		if aerr != nil {
			writeErr(w, aerr)
			return
		}
		writeValue(w, http.StatusOK, map[string]any{"domains": domains})
	}
}

// domains lists the DNS service domains of the cloud's DNS provider profile.
func (st *store) domains(tenant, cloudUUID string) ([]string, *apiError) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	c := st.byUUID(tenant, kinds["cloud"], cloudUUID)
	if c == nil {
		return nil, errf(http.StatusNotFound, "cloud object with uuid %s not found", cloudUUID)
	}
	ref := str(c.model.(*models.Cloud).DNSProviderRef)
	p := st.all[uuidOfRef(ref)]
	if ref == "" || p == nil {
		return nil, errf(http.StatusNotFound, "Cloud %s has no DNS provider profile (dns_provider_ref)", c.name)
	}
	domains := []string{}
	if ip := p.model.(*models.IPAMDNSProviderProfile).InternalProfile; ip != nil {
		for _, d := range ip.DNSServiceDomain {
			if d != nil && d.DomainName != nil {
				domains = append(domains, *d.DomainName)
			}
		}
	}
	return domains, nil
}

// renderSysconf marshals the systemconfiguration. Callers hold st.mu.
func (st *store) renderSysconf(includeName bool) ([]byte, error) {
	cp := *st.sysconf
	cp.URL = ptr(st.base + "/api/systemconfiguration")
	if includeName {
		cp.DNSVirtualserviceRefs = nil
		for _, r := range st.sysconf.DNSVirtualserviceRefs {
			if o := st.all[uuidOfRef(r)]; o != nil {
				r += "#" + o.name
			}
			cp.DNSVirtualserviceRefs = append(cp.DNSVirtualserviceRefs, r)
		}
	}
	return json.Marshal(&cp)
}

// updateSysconf replaces (PUT) or patches the systemconfiguration, from the
// admin tenant only. Changing default_license_tier affects clouds created
// afterwards, as on the controller; existing clouds keep their tier.
func (s *Sim) updateSysconf(w http.ResponseWriter, r *http.Request, tenant string, q url.Values) {
	if aerr := checkObjectParams(q); aerr != nil {
		writeErr(w, aerr)
		return
	}
	if tenant != adminTenant {
		writeErr(w, errf(http.StatusForbidden, "systemconfiguration can only be modified from the admin tenant"))
		return
	}
	body, aerr := readBody(r)
	if aerr != nil {
		writeErr(w, aerr)
		return
	}
	k := sysconfKind
	st := s.store
	st.mu.Lock()
	defer st.mu.Unlock()
	var m any
	if r.Method == http.MethodPatch {
		m, aerr = patch(k, st.sysconf, body)
	} else {
		m, aerr = decodeStrict(k, body)
	}
	if aerr != nil {
		writeErr(w, aerr)
		return
	}
	sc := m.(*models.SystemConfiguration)
	if lm := str(sc.LastModified); lm != "" && lm != str(st.sysconf.LastModified) {
		writeErr(w, errf(http.StatusPreconditionFailed, "Concurrent Update Error: _last_modified %s does not match the current %s; read the object again", lm, str(st.sysconf.LastModified)))
		return
	}
	if u := str(sc.UUID); u != "" && u != sysconfUUID {
		writeErr(w, errf(http.StatusBadRequest, "Field 'uuid' cannot be changed (%s in the body, %s in the URL)", u, sysconfUUID))
		return
	}
	if sc.DefaultLicenseTier == nil {
		sc.DefaultLicenseTier = ptr(tierEnterprise)
	}
	if aerr := checkEnums(typeSystemConfiguration, sc); aerr != nil {
		writeErr(w, aerr)
		return
	}
	refs, aerr := st.resolveRefs(tenant, sc)
	if aerr != nil {
		writeErr(w, aerr)
		return
	}
	sc.UUID = ptr(sysconfUUID)
	sc.URL = nil
	sc.LastModified = ptr(st.nextLastModified())
	st.unlinkRefs(sysconfUUID, st.sysconfRefs)
	st.sysconf, st.sysconfRefs = sc, refs
	st.linkRefs(sysconfUUID, refs)
	b, err := st.renderSysconf(includeName(q))
	if err != nil {
		writeErr(w, errf(http.StatusInternalServerError, "encoding systemconfiguration: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// sysconfKind lets the generic decoder and PATCH work on the singleton.
var sysconfKind = &kind{name: typeSystemConfiguration, display: "SystemConfiguration", typ: reflect.TypeOf(models.SystemConfiguration{}), fUUID: -1, fName: -1, fURL: -1, fLastMod: -1, fTenantRef: -1, fCloudRef: -1, fCreatedBy: -1, fMarkers: -1}
