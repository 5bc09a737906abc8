package avisim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/vmware/alb-sdk/go/models"
)

// requiredFields fills the controller's defaults into required fields the
// client left out and refuses a body that lacks a required field without a
// default, as the controller's schema validation does.
func requiredFields(k *kind, m any) *apiError {
	v := reflect.ValueOf(m).Elem()
	for i, d := range k.defaults {
		if f := v.Field(i); f.Kind() == reflect.Pointer && f.IsNil() && f.Type().Elem().Kind() == reflect.String {
			f.Set(reflect.ValueOf(ptr(d)))
		}
	}
	for _, i := range k.required {
		if f := v.Field(i); isZero(f) {
			return errf(http.StatusBadRequest, "Field '%s' is required", jsonName(k.typ.Field(i)))
		}
	}
	if np, ok := m.(*models.NetworkProfile); ok && np.Profile != nil && np.Profile.Type == nil {
		np.Profile.Type = ptr("PROTOCOL_TYPE_TCP_PROXY")
	}
	return nil
}

func isZero(f reflect.Value) bool {
	switch f.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map:
		return f.IsNil()
	case reflect.Slice:
		return f.Len() == 0
	}
	return f.IsZero()
}

// enums are the enumerated fields the simulator validates: the ones that
// decide behaviour (object types, license tiers). Values are the swagger's
// enum options.
var enums = map[string]map[string][]string{
	"applicationprofile":            {"type": {"APPLICATION_PROFILE_TYPE_L4", "APPLICATION_PROFILE_TYPE_HTTP", "APPLICATION_PROFILE_TYPE_SYSLOG", "APPLICATION_PROFILE_TYPE_DNS", "APPLICATION_PROFILE_TYPE_SSL", "APPLICATION_PROFILE_TYPE_SIP"}},
	"healthmonitor":                 {"type": {"HEALTH_MONITOR_PING", "HEALTH_MONITOR_TCP", "HEALTH_MONITOR_HTTP", "HEALTH_MONITOR_HTTPS", "HEALTH_MONITOR_EXTERNAL", "HEALTH_MONITOR_UDP", "HEALTH_MONITOR_DNS", "HEALTH_MONITOR_GSLB", "HEALTH_MONITOR_SIP", "HEALTH_MONITOR_RADIUS", "HEALTH_MONITOR_SMTP", "HEALTH_MONITOR_SMTPS", "HEALTH_MONITOR_POP3", "HEALTH_MONITOR_POP3S", "HEALTH_MONITOR_IMAP", "HEALTH_MONITOR_IMAPS", "HEALTH_MONITOR_FTP", "HEALTH_MONITOR_FTPS", "HEALTH_MONITOR_LDAP", "HEALTH_MONITOR_LDAPS", "HEALTH_MONITOR_SCTP"}},
	"networkprofile":                {"profile.type": {"PROTOCOL_TYPE_TCP_PROXY", "PROTOCOL_TYPE_TCP_FAST_PATH", "PROTOCOL_TYPE_UDP_FAST_PATH", "PROTOCOL_TYPE_UDP_PROXY", "PROTOCOL_TYPE_SCTP_PROXY", "PROTOCOL_TYPE_SCTP_FAST_PATH"}},
	"applicationpersistenceprofile": {"persistence_type": {"PERSISTENCE_TYPE_CLIENT_IP_ADDRESS", "PERSISTENCE_TYPE_HTTP_COOKIE", "PERSISTENCE_TYPE_TLS", "PERSISTENCE_TYPE_CLIENT_IPV6_ADDRESS", "PERSISTENCE_TYPE_CUSTOM_HTTP_HEADER", "PERSISTENCE_TYPE_APP_COOKIE", "PERSISTENCE_TYPE_GSLB_SITE"}},
	"sslkeyandcertificate":          {"type": {"SSL_CERTIFICATE_TYPE_VIRTUALSERVICE", "SSL_CERTIFICATE_TYPE_SYSTEM", "SSL_CERTIFICATE_TYPE_CA"}},
	"stringgroup":                   {"type": {"SG_TYPE_STRING", "SG_TYPE_KEYVAL"}},
	"wafpolicy":                     {"mode": {"WAF_MODE_DETECTION_ONLY", "WAF_MODE_ENFORCEMENT"}},
	"virtualservice":                {"type": {"VS_TYPE_NORMAL", "VS_TYPE_VH_PARENT", "VS_TYPE_VH_CHILD"}},
	"httppolicyset": {
		"http_request_policy.rules.hdr_action.action":                       hdrActions,
		"http_response_policy.rules.hdr_action.action":                      hdrActions,
		"http_request_policy.rules.rewrite_url_action.host_hdr.type":        {"URI_PARAM_TYPE_TOKENIZED"},
		"http_request_policy.rules.rewrite_url_action.path.type":            {"URI_PARAM_TYPE_TOKENIZED"},
		"http_request_policy.rules.rewrite_url_action.host_hdr.tokens.type": uriTokenTypes,
		"http_request_policy.rules.rewrite_url_action.path.tokens.type":     uriTokenTypes,
	},
	"cloud":               {"license_tier": licenseTiers},
	"serviceenginegroup":  {"license_tier": licenseTiers},
	"systemconfiguration": {"default_license_tier": licenseTiers},
}

var (
	hdrActions    = []string{"HTTP_ADD_HDR", "HTTP_REMOVE_HDR", "HTTP_REPLACE_HDR"}
	uriTokenTypes = []string{"URI_TOKEN_TYPE_HOST", "URI_TOKEN_TYPE_PATH", "URI_TOKEN_TYPE_STRING", "URI_TOKEN_TYPE_STRING_GROUP", "URI_TOKEN_TYPE_REGEX", "URI_TOKEN_TYPE_REGEX_QUERY"}
)

// checkEnums refuses a value outside the enum of the fields in enums.
func checkEnums(kindName string, m any) *apiError {
	fields := enums[kindName]
	if len(fields) == 0 {
		return nil
	}
	doc, err := toMap(m)
	if err != nil {
		return errf(http.StatusBadRequest, "Invalid request body: %v", err)
	}
	for _, path := range sortedFieldPaths(fields) {
		for _, v := range valuesAt(doc, strings.Split(path, ".")) {
			sv := scalarString(v)
			if !contains(fields[path], sv) {
				return errf(http.StatusBadRequest, "Invalid value '%s' for field '%s': expected one of %s", sv, path, strings.Join(fields[path], ", "))
			}
		}
	}
	return nil
}

func sortedFieldPaths(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func toMap(m any) (map[string]any, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	err = json.Unmarshal(b, &doc)
	return doc, err
}

// valuesAt returns the values at a dotted path in a decoded JSON document,
// descending into lists at every step ("services.enable_ssl" yields the
// flag of every service).
func valuesAt(v any, path []string) []any {
	if len(path) == 0 {
		if list, ok := v.([]any); ok {
			return list
		}
		if v == nil {
			return nil
		}
		return []any{v}
	}
	switch t := v.(type) {
	case map[string]any:
		return valuesAt(t[path[0]], path[1:])
	case []any:
		var out []any
		for _, e := range t {
			out = append(out, valuesAt(e, path)...)
		}
		return out
	}
	return nil
}

func scalarString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case bool, float64:
		return fmt.Sprint(t)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// defaultRef returns the normalized reference to the named admin object of
// kind kindName and its uuid, or "" when the controller has no such object.
func (s *store) defaultRef(tenant, kindName, name string) (string, string) {
	o := s.byName(tenant, kinds[kindName], name)
	if o == nil {
		return "", ""
	}
	return s.ref(kindName, o.uuid), o.uuid
}

// virtualServiceDefaults fills in what the controller fills into a virtual
// service the client left without: the application and network profiles
// (System-HTTP and System-TCP-Proxy; on ESSENTIALS the swagger's special
// defaults System-L4-Application and System-TCP-Fast-Path) and, for a
// virtual service with an SSL port and no certificate (AKO's shared L7
// parent, whose certificates live on its SNI children), the system default
// certificates and SSL profile. Clients that compare what they sent with
// what they read back see these, as they would on the controller.
func (s *store) virtualServiceDefaults(tenant string, vs *models.VirtualService, tier string, refs []string) []string {
	set := func(field **string, kindName, name string) {
		if *field != nil && **field != "" {
			return
		}
		if r, u := s.defaultRef(tenant, kindName, name); r != "" {
			*field = ptr(r)
			refs = appendUnique(refs, u)
		}
	}
	appProfile, netProfile := "System-HTTP", "System-TCP-Proxy"
	if tier == tierEssentials {
		appProfile, netProfile = "System-L4-Application", "System-TCP-Fast-Path"
	}
	if str(vs.Type) != "VS_TYPE_VH_CHILD" {
		set(&vs.ApplicationProfileRef, "applicationprofile", appProfile)
		set(&vs.NetworkProfileRef, "networkprofile", netProfile)
	}
	ssl := false
	for _, svc := range vs.Services {
		if svc != nil && svc.EnableSsl != nil && *svc.EnableSsl {
			ssl = true
		}
	}
	if ssl {
		if len(vs.SslKeyAndCertificateRefs) == 0 {
			for _, name := range defaultCerts {
				if r, u := s.defaultRef(tenant, "sslkeyandcertificate", name); r != "" {
					vs.SslKeyAndCertificateRefs = append(vs.SslKeyAndCertificateRefs, r)
					refs = appendUnique(refs, u)
				}
			}
		}
		set(&vs.SslProfileRef, "sslprofile", "System-Standard")
	}
	return refs
}

// defaultCerts are the certificates (RSA and EC) a fresh controller serves
// on an SSL port that names none.
var defaultCerts = []string{"System-Default-Cert", "System-Default-Cert-EC"}
