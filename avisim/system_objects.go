package avisim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"time"

	"github.com/vmware/alb-sdk/go/models"
)

// systemObject is one object a fresh controller ships, in the admin tenant.
type systemObject struct {
	kind  string
	model any
}

// systemObjects returns the System-* (and Default-*) objects of a fresh
// controller for every type clients reference by name, with the type
// fields the swagger's enums define, so that /api/<type>/?name=System-...
// resolves and a client that reads a profile's type (AKO's rule CRD checks
// read applicationprofile.type and networkprofile.profile.type) sees the
// controller's answer. A PKI profile is not among them: a fresh controller
// ships none that avisim could confirm, and a name the controller lacks
// must not resolve here either. Objects that refer to others come after
// them.
func systemObjects() []systemObject {
	rsaCert, ecCert := defaultCertificates()
	appProfile := func(name, typ string, fill func(*models.ApplicationProfile)) systemObject {
		m := &models.ApplicationProfile{Name: ptr(name), Type: ptr(typ)}
		if fill != nil {
			fill(m)
		}
		return systemObject{"applicationprofile", m}
	}
	netProfile := func(name string, u *models.NetworkProfileUnion) systemObject {
		return systemObject{"networkprofile", &models.NetworkProfile{Name: ptr(name), Profile: u}}
	}
	monitor := func(name, typ string, fill func(*models.HealthMonitor)) systemObject {
		m := &models.HealthMonitor{Name: ptr(name), Type: ptr(typ), SendInterval: ptr(int32(10)), ReceiveTimeout: ptr(int32(4)),
			SuccessfulChecks: ptr(int32(2)), FailedChecks: ptr(int32(2))}
		if fill != nil {
			fill(m)
		}
		return systemObject{"healthmonitor", m}
	}
	persistence := func(name, typ string, fill func(*models.ApplicationPersistenceProfile)) systemObject {
		m := &models.ApplicationPersistenceProfile{Name: ptr(name), PersistenceType: ptr(typ)}
		if fill != nil {
			fill(m)
		}
		return systemObject{"applicationpersistenceprofile", m}
	}
	httpMonitor := &models.HealthMonitorHTTP{HTTPRequest: ptr("HEAD / HTTP/1.0"), HTTPResponseCode: []string{"HTTP_2XX", "HTTP_3XX"}}
	stringGroup := func(name string, keys ...string) systemObject {
		m := &models.StringGroup{Name: ptr(name), Type: ptr("SG_TYPE_STRING")}
		for _, k := range keys {
			m.Kv = append(m.Kv, &models.KeyValue{Key: ptr(k)})
		}
		return systemObject{"stringgroup", m}
	}
	parser := func(name string) systemObject {
		return systemObject{"protocolparser", &models.ProtocolParser{Name: ptr(name), ParserCode: ptr("-- " + name + " (system parser)")}}
	}
	return []systemObject{
		appProfile("System-HTTP", "APPLICATION_PROFILE_TYPE_HTTP", func(m *models.ApplicationProfile) {
			m.HTTPProfile = &models.HTTPApplicationProfile{}
		}),
		appProfile("System-Secure-HTTP", "APPLICATION_PROFILE_TYPE_HTTP", func(m *models.ApplicationProfile) {
			m.HTTPProfile = &models.HTTPApplicationProfile{HTTPToHTTPS: ptr(true)}
		}),
		appProfile("System-L4-Application", "APPLICATION_PROFILE_TYPE_L4", nil),
		appProfile("System-SSL-Application", "APPLICATION_PROFILE_TYPE_SSL", nil),
		appProfile("System-DNS", "APPLICATION_PROFILE_TYPE_DNS", nil),
		appProfile("System-Syslog", "APPLICATION_PROFILE_TYPE_SYSLOG", nil),

		netProfile("System-TCP-Proxy", &models.NetworkProfileUnion{Type: ptr("PROTOCOL_TYPE_TCP_PROXY"), TCPProxyProfile: &models.TCPProxyProfile{Automatic: ptr(true)}}),
		netProfile("System-TCP-Fast-Path", &models.NetworkProfileUnion{Type: ptr("PROTOCOL_TYPE_TCP_FAST_PATH"), TCPFastPathProfile: &models.TCPFastPathProfile{}}),
		netProfile("System-UDP-Fast-Path", &models.NetworkProfileUnion{Type: ptr("PROTOCOL_TYPE_UDP_FAST_PATH"), UDPFastPathProfile: &models.UDPFastPathProfile{}}),
		netProfile("System-UDP-Per-Pkt", &models.NetworkProfileUnion{Type: ptr("PROTOCOL_TYPE_UDP_FAST_PATH"), UDPFastPathProfile: &models.UDPFastPathProfile{PerPktLoadbalance: ptr(true)}}),
		netProfile("System-UDP-No-SNAT", &models.NetworkProfileUnion{Type: ptr("PROTOCOL_TYPE_UDP_FAST_PATH"), UDPFastPathProfile: &models.UDPFastPathProfile{Snat: ptr(false)}}),
		netProfile("System-UDP-Proxy", &models.NetworkProfileUnion{Type: ptr("PROTOCOL_TYPE_UDP_PROXY"), UDPProxyProfile: &models.UDPProxyProfile{}}),
		netProfile("System-SCTP-Proxy", &models.NetworkProfileUnion{Type: ptr("PROTOCOL_TYPE_SCTP_PROXY"), SctpProxyProfile: &models.SCTPProxyProfile{}}),

		monitor("System-TCP", "HEALTH_MONITOR_TCP", func(m *models.HealthMonitor) { m.TCPMonitor = &models.HealthMonitorTCP{} }),
		monitor("System-UDP", "HEALTH_MONITOR_UDP", func(m *models.HealthMonitor) { m.UDPMonitor = &models.HealthMonitorUDP{} }),
		monitor("System-SCTP", "HEALTH_MONITOR_SCTP", func(m *models.HealthMonitor) { m.SctpMonitor = &models.HealthMonitorSctp{} }),
		monitor("System-HTTP", "HEALTH_MONITOR_HTTP", func(m *models.HealthMonitor) { m.HTTPMonitor = httpMonitor }),
		monitor("System-HTTPS", "HEALTH_MONITOR_HTTPS", func(m *models.HealthMonitor) { m.HTTPSMonitor = httpMonitor }),
		monitor("System-Ping", "HEALTH_MONITOR_PING", nil),

		{"sslprofile", &models.SSLProfile{Name: ptr("System-Standard"), Type: ptr("SSL_PROFILE_TYPE_APPLICATION"),
			AcceptedVersions: []*models.SSLVersion{{Type: ptr("SSL_VERSION_TLS1_2")}, {Type: ptr("SSL_VERSION_TLS1_3")}}}},
		{"sslkeyandcertificate", &models.SSLKeyAndCertificate{Name: ptr(defaultCerts[0]), Type: ptr("SSL_CERTIFICATE_TYPE_VIRTUALSERVICE"),
			Certificate: &models.SSLCertificate{Certificate: ptr(rsaCert.cert)}, Key: ptr(rsaCert.key)}},
		{"sslkeyandcertificate", &models.SSLKeyAndCertificate{Name: ptr(defaultCerts[1]), Type: ptr("SSL_CERTIFICATE_TYPE_VIRTUALSERVICE"),
			Certificate: &models.SSLCertificate{Certificate: ptr(ecCert.cert)}, Key: ptr(ecCert.key)}},
		{"analyticsprofile", &models.AnalyticsProfile{Name: ptr("System-Analytics-Profile")}},

		persistence("System-Persistence-Client-IP", "PERSISTENCE_TYPE_CLIENT_IP_ADDRESS", func(m *models.ApplicationPersistenceProfile) {
			m.IPPersistenceProfile = &models.IPPersistenceProfile{}
		}),
		persistence("System-Persistence-Http-Cookie", "PERSISTENCE_TYPE_HTTP_COOKIE", func(m *models.ApplicationPersistenceProfile) {
			m.HTTPCookiePersistenceProfile = &models.HTTPCookiePersistenceProfile{}
		}),
		persistence("System-Persistence-App-Cookie", "PERSISTENCE_TYPE_APP_COOKIE", func(m *models.ApplicationPersistenceProfile) {
			m.AppCookiePersistenceProfile = &models.AppCookiePersistenceProfile{PrstHdrName: ptr("JSESSIONID")}
		}),
		persistence("System-Persistence-Custom-Http-Header", "PERSISTENCE_TYPE_CUSTOM_HTTP_HEADER", func(m *models.ApplicationPersistenceProfile) {
			m.HdrPersistenceProfile = &models.HdrPersistenceProfile{PrstHdrName: ptr("X-Avi-Persistence")}
		}),
		persistence("System-Persistence-TLS", "PERSISTENCE_TYPE_TLS", nil),

		{"wafprofile", &models.WafProfile{Name: ptr("System-WAF-Profile"), Config: &models.WafConfig{}}},
		{"wafpolicy", &models.WafPolicy{Name: ptr("System-WAF-Policy"), Mode: ptr("WAF_MODE_DETECTION_ONLY"),
			WafProfileRef: ptr("/api/wafprofile/?name=System-WAF-Profile")}},
		{"errorpageprofile", &models.ErrorPageProfile{Name: ptr("Custom-Error-Page-Profile")}},

		stringGroup("System-Rewritable-Content-Types", "text/html", "text/xml", "text/plain", "application/javascript"),
		stringGroup("System-Compressible-Content-Types", "text/html", "text/xml", "text/plain", "text/css", "application/javascript", "application/json"),
		parser("Default-DHCP"),
		parser("Default-Radius"),
		parser("Default-FIX"),
		parser("Default-TLS"),
		{"vsdatascriptset", &models.VSDataScriptSet{Name: ptr("Default-PASV-FTP")}},
		{"vsdatascriptset", &models.VSDataScriptSet{Name: ptr("Default-ACTIVE-FTP")}},
		{"vsdatascriptset", &models.VSDataScriptSet{Name: ptr("Default-FULL-FTP")}},
	}
}

type pemPair struct{ cert, key string }

var (
	certsOnce        sync.Once
	rsaCert, ecdCert pemPair
)

// defaultCertificates returns the self-signed RSA and EC certificates of
// System-Default-Cert and System-Default-Cert-EC, made once per process
// (a controller generates its own at install time too).
func defaultCertificates() (pemPair, pemPair) {
	certsOnce.Do(func() {
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		rsaCert = selfSigned(rk, &rk.PublicKey, 1)
		ecdCert = selfSigned(ek, &ek.PublicKey, 2)
	})
	return rsaCert, ecdCert
}

func selfSigned(priv crypto.Signer, pub any, serial int64) pemPair {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "System Default Cert", Organization: []string{"avisim"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		panic(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		panic(err)
	}
	return pemPair{
		cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		key:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})),
	}
}
