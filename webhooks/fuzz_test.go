package webhooks

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	kjson "sigs.k8s.io/json"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// fuzzPaths are the webhooks FuzzAdmission posts to; the fuzzer picks one
// by index, so one target covers the guard and every Service, Ingress and AviInfraSetting handler.
var fuzzPaths = []string{PathMutateService, PathValidateService, PathMutateIngress, PathValidateIngress, PathValidateAviInfraSetting}

// FuzzAdmission posts arbitrary bodies through the webhook server's mux, as
// registered by Setup (Strict in front of controller-runtime's handlers),
// over a fixed cluster and controller inventory. Whatever arrives, the
// server answers: 200 with a well-formed AdmissionReview whose response
// carries the request's uid (the API server drops any other answer and
// fails the request), or 400/405/413 with a plain-text message. Never a
// panic, never a 200 the API server cannot use.
func FuzzAdmission(f *testing.F) {
	logf.SetLogger(logr.Discard())
	mux := fuzzWebhookMux(f)
	f.Fuzz(func(t *testing.T, hook uint8, body []byte) {
		defer fuzzWatchdog(fmt.Sprintf("hook %d, body %q", hook, body))()
		path := fuzzPaths[int(hook)%len(fuzzPaths)]
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path+"?timeout=5s", bytes.NewReader(body)))
		checkAdmissionAnswer(t, path, body, rec)
	})
}

// checkAdmissionAnswer asserts the properties FuzzAdmission promises.
func checkAdmissionAnswer(t *testing.T, path string, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	out := rec.Body.Bytes()
	switch rec.Code {
	case http.StatusOK:
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("%s: status %d with Content-Type %q, want a plain-text message: %s", path, rec.Code, ct, out)
		}
		msg := strings.TrimSpace(string(out))
		if !strings.HasPrefix(msg, "malformed AdmissionReview: ") && msg != "request body too large" && !strings.HasPrefix(msg, "reading request body: ") {
			t.Fatalf("%s: status %d with message %q, want one saying what is wrong with the review", path, rec.Code, msg)
		}
		return
	default:
		t.Fatalf("%s: status %d, want 200 or 400/405/413: %s", path, rec.Code, out)
	}

	// The guard let it through, so the request parses, read as Kubernetes
	// reads JSON (field names case-sensitive).
	var req admissionv1.AdmissionReview
	if err := kjson.UnmarshalCaseSensitivePreserveInts(body, &req); err != nil || req.Request == nil {
		t.Fatalf("%s: 200 for a body that is no AdmissionReview (%v): %q", path, err, body)
	}
	var review admissionv1.AdmissionReview
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&review); err != nil {
		t.Fatalf("%s: 200 whose body is not an AdmissionReview (%v): %s", path, err, out)
	}
	if review.Kind != "AdmissionReview" || (review.APIVersion != "admission.k8s.io/v1" && review.APIVersion != "admission.k8s.io/v1beta1") {
		t.Fatalf("%s: answer is %s %s, want an admission.k8s.io AdmissionReview: %s", path, review.APIVersion, review.Kind, out)
	}
	res := review.Response
	if res == nil {
		t.Fatalf("%s: AdmissionReview without a response: %s", path, out)
	}
	if res.UID != req.Request.UID {
		t.Fatalf("%s: response uid %q, request uid %q; the API server rejects such an answer: request %q, answer %s", path, res.UID, req.Request.UID, body, out)
	}
	if !res.Allowed && (res.Result == nil || res.Result.Message == "") {
		t.Fatalf("%s: denied without a message: %s", path, out)
	}
	if res.Patch != nil {
		var ops []map[string]any
		if res.PatchType == nil || *res.PatchType != admissionv1.PatchTypeJSONPatch || json.Unmarshal(res.Patch, &ops) != nil {
			t.Fatalf("%s: patch is not a JSON patch: %s", path, out)
		}
	}
}

// fuzzManager is the part of a manager Setup uses: its scheme and webhook
// server. Any other method panics (nil embedded interface), which would show
// that Setup started to need more than the fuzz test provides.
type fuzzManager struct {
	manager.Manager
	scheme *runtime.Scheme
	server webhook.Server
}

func (m fuzzManager) GetScheme() *runtime.Scheme       { return m.scheme }
func (m fuzzManager) GetWebhookServer() webhook.Server { return m.server }

// fuzzIndexer registers cluster.SetupIndexes' indexes on a fake client builder.
type fuzzIndexer struct{ b *fake.ClientBuilder }

func (i fuzzIndexer) IndexField(_ context.Context, obj client.Object, field string, fn client.IndexerFunc) error {
	i.b.WithIndex(obj, field, fn)
	return nil
}

// fuzzInventory is a fixed controller snapshot.
type fuzzInventory struct{ s *inventory.Snapshot }

func (f fuzzInventory) Snapshot() *inventory.Snapshot { return f.s }

// fuzzWebhookMux builds the webhook server's mux as the operator does
// (Setup, cluster.CacheLookups over indexed caches), over a cluster with
// something for every check to find: Services holding VIPs, a shared-VIP
// group, AviInfraSettings accepted and rejected, a Namespace selecting one
// and one blocked, a TLS Secret, an IngressClass and an Ingress claiming a host.
func fuzzWebhookMux(tb testing.TB) http.Handler {
	tb.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := config.Defaults()
	s.AKOSettings.ClusterName = "demo"
	s.AKOSettings.BlockedNamespaceList = []string{"blocked"}
	s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "vip-net-a"}}
	s.L7Settings.FQDNReusePolicy = rules.FQDNReuseStrict

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		tb.Fatal(err)
	}
	if err := v1beta1.AddToScheme(scheme); err != nil {
		tb.Fatal(err)
	}

	lb := func(ns, name string, ann map[string]string, ip string) *corev1.Service {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: ptr.To(ownership.LBClass),
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
		}
		if ip != "" {
			svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
		}
		return svc
	}
	infra := func(name, status string, nets ...string) *v1beta1.AviInfraSetting {
		a := &v1beta1.AviInfraSetting{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for _, n := range nets {
			a.Spec.Network.VipNetworks = append(a.Spec.Network.VipNetworks, v1beta1.AviInfraSettingVipNetwork{NetworkName: n})
		}
		a.Status.Status = status
		return a
	}
	crt, key := fuzzCertPair(tb, "shop.example.com", now)
	secret, err := ownership.TransformSecret(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	})
	if err != nil {
		tb.Fatal(err)
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "blocked"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Annotations: map[string]string{rules.AnnInfraSetting: "edge"}}},
		lb("default", "web", nil, "10.50.0.10"),
		lb("default", "k1", map[string]string{rules.AnnSharedVIP: "k", rules.AnnLoadBalancerIP: "10.50.0.13"}, ""),
		lb("team-a", "api", map[string]string{rules.AnnInfraSetting: "edge"}, "10.60.0.2"),
		infra("edge", v1beta1.StatusAccepted, "vip-net-b"),
		infra("broken", v1beta1.StatusRejected, "nope"),
		infra("pending", ""),
		secret.(*corev1.Secret),
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-lb", Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
			Spec: networkingv1.IngressClassSpec{Controller: ownership.LBClass}},
		&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "shop"},
			Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("avi-lb"), Rules: []networkingv1.IngressRule{{Host: "claimed.example.com"}}}},
	}
	b := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...)
	if err := cluster.SetupIndexes(context.Background(), fuzzIndexer{b}); err != nil {
		tb.Fatal(err)
	}
	c := b.Build()

	addr := netip.MustParseAddr
	inv := &inventory.Snapshot{
		FetchedAt: now.Add(-10 * time.Second),
		Cloud:     inventory.Cloud{Name: "Default-Cloud", UUID: "cloud-1", Type: inventory.CloudVCenter, IPAMNetworks: []string{"vip-net-a", "vip-net-b"}},
		Networks: map[string]*inventory.Network{
			"vip-net-a": {Name: "vip-net-a", UUID: "network-a", Subnets: []inventory.Subnet{
				{Prefix: netip.MustParsePrefix("10.50.0.0/24"), VIPRanges: []inventory.Range{{Begin: addr("10.50.0.10"), End: addr("10.50.0.200")}}},
			}},
			"vip-net-b": {Name: "vip-net-b", UUID: "network-b", Subnets: []inventory.Subnet{
				{Prefix: netip.MustParsePrefix("10.60.0.0/28"), VIPRanges: []inventory.Range{{Begin: addr("10.60.0.2"), End: addr("10.60.0.5")}}},
			}},
		},
		SEGroups: map[string]inventory.SEGroup{
			"Default-Group": {Name: "Default-Group", UUID: "seg-1"},
			"prod-seg":      {Name: "prod-seg", UUID: "seg-3", Labels: map[string]string{rules.SEGroupClusterLabel: "prod"}},
		},
		InUse: map[netip.Addr]inventory.Holder{
			addr("10.50.0.10"): {VsVip: "demo--default-web", CreatedBy: "vipgate-demo", Tenant: "admin"},
			addr("10.50.0.11"): {VsVip: "legacy-vip", CreatedBy: "ako-prod", Tenant: "admin"},
			addr("10.50.0.13"): {VsVip: "demo--default-k", CreatedBy: "vipgate-demo", Tenant: "admin"},
		},
	}
	inv.ComputeFree()

	m := fuzzManager{scheme: scheme, server: webhook.NewServer(webhook.Options{})}
	err = Setup(m, Options{
		Settings:   &s,
		Inventory:  fuzzInventory{inv},
		StaleAfter: time.Minute,
		Lookups:    &cluster.CacheLookups{Cache: c, API: c, Settings: &s},
		Now:        func() time.Time { return now },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m.server.WebhookMux()
}

// fuzzCertPair issues a self-signed certificate for host, valid a year around now.
func fuzzCertPair(tb testing.TB, host string, now time.Time) (crt, key []byte) {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// fuzzHangAfter bounds one fuzz input. Go's fuzzing engine has no per-input
// timeout: a hang would only show as executions stopping. Past the bound
// the process panics, and the engine records the input as a crasher.
const fuzzHangAfter = time.Minute

// fuzzWatchdog arms the hang bound for one input; call the result when done.
func fuzzWatchdog(input string) (stop func() bool) {
	return time.AfterFunc(fuzzHangAfter, func() {
		panic(fmt.Sprintf("fuzz input still running after %v, a hang: %s", fuzzHangAfter, input))
	}).Stop
}
