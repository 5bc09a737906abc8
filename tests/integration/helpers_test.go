package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

// startSim starts a fresh simulated controller for one test, so VIPs a
// reconciler allocates in one test never leak into another's inventory.
func startSim(t testing.TB, seed *avisim.Seed) *avisim.Sim {
	t.Helper()
	sim, err := avisim.New(avisim.Options{Seed: seed, Username: "admin", Password: "admin"})
	if err != nil {
		t.Fatalf("avisim: %v", err)
	}
	sim.StartTLS()
	t.Cleanup(sim.Close)
	return sim
}

// startReal runs vipgate on the real path: a fresh avisim with seed, the
// controller connection through alb-sdk and the inventory loaded from it.
// tweak (may be nil) edits the demo settings before start.
func startReal(t testing.TB, seed *avisim.Seed, tweak func(*config.Settings)) (*avisim.Sim, *operator.Operator) {
	t.Helper()
	sim := startSim(t, seed)
	s := harness.DemoSettings(t, sim.Host())
	if tweak != nil {
		tweak(s)
	}
	op := env.StartVipgate(t, operator.Options{Settings: s, Credentials: harness.SimCredentials(sim), InventoryStaleAfter: time.Hour})
	if op.Inventory == nil || op.Inventory.Snapshot() == nil {
		t.Fatalf("vipgate started without a loaded inventory")
	}
	return sim, op
}

var nsSeq atomic.Int64

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// newNamespace creates a namespace named after the test. envtest has no
// namespace controller, so namespaces are never deleted; a unique name per
// call keeps tests apart instead.
func newNamespace(t testing.TB, annotations map[string]string) string {
	t.Helper()
	base := nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(base) > 40 {
		base = base[len(base)-40:]
	}
	name := strings.Trim(base, "-") + "-" + strconv.FormatInt(nsSeq.Add(1), 10)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
	if err := env.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// create creates obj and fails the test when the API server refuses it. The
// object is removed at cleanup (see cleanupObject).
func create(t testing.TB, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
	cleanupObject(t, obj)
}

// cleanupObject deletes obj at test cleanup and strips its finalizers, so a
// Service holding vipgate's cleanup finalizer does not linger (with its VIP
// in the index) after the vipgate that would remove it has stopped. Call it
// after StartVipgate: cleanups run last-in first-out, so this runs while the
// webhook still answers the finalizer-removing update.
func cleanupObject(t testing.TB, obj client.Object) {
	t.Helper()
	t.Cleanup(func() {
		ctx := context.Background()
		_ = env.Client.Delete(ctx, obj)
		patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))
		_ = env.Client.Patch(ctx, obj, patch)
	})
}

// tryCreate creates obj and returns the API server's answer; an object that
// was admitted is removed at cleanup.
func tryCreate(t testing.TB, obj client.Object) error {
	t.Helper()
	err := env.Client.Create(context.Background(), obj)
	if err == nil {
		cleanupObject(t, obj)
	}
	return err
}

// webhookDenial names the webhook in the API server's message, which proves
// a rejection came from vipgate rather than the API server's own validation.
func webhookDenial(hook string) string {
	return fmt.Sprintf("admission webhook %q denied the request", hook)
}

// wantDenied fails unless err is an admission rejection containing every part.
func wantDenied(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("admitted; want a rejection containing %q", parts)
	}
	t.Logf("denied: %v", err)
	if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) && !apierrors.IsBadRequest(err) {
		t.Errorf("want an Invalid/Forbidden rejection, got %v (reason %s)", err, apierrors.ReasonForError(err))
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("rejection lacks %q:\n%v", p, err)
		}
	}
}

// waitCached waits until vipgate's informer cache holds obj (as returned by
// the API server), optionally satisfying ok. Admission reads the cache, so a
// test that relies on one object to reject another must wait for it there.
func waitCached(t testing.TB, op *operator.Operator, obj client.Object, ok func(client.Object) bool) {
	t.Helper()
	key := client.ObjectKeyFromObject(obj)
	// Secrets come back transformed (metadata and TLS summary, no data).
	probe := obj.DeepCopyObject().(client.Object)
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := op.Manager.GetCache().Get(ctx, key, probe); err != nil {
			return false, nil
		}
		return ok == nil || ok(probe), nil
	})
	if err != nil {
		t.Fatalf("vipgate's cache never held %T %s: %v", obj, key, err)
	}
}

// waitUncached waits until vipgate's cache no longer holds obj.
func waitUncached(t testing.TB, op *operator.Operator, obj client.Object) {
	t.Helper()
	probe := obj.DeepCopyObject().(client.Object)
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return apierrors.IsNotFound(op.Manager.GetCache().Get(ctx, client.ObjectKeyFromObject(obj), probe)), nil
	})
	if err != nil {
		t.Fatalf("vipgate's cache still holds %T %s", obj, client.ObjectKeyFromObject(obj))
	}
}

// svcOpt edits a Service built by lbService.
type svcOpt func(*corev1.Service)

// lbService is a LoadBalancer Service without a class (vipgate is the default
// LB controller in the demo settings) and one TCP port 80, requesting ip ("" for none).
func lbService(ns, name, ip string, opts ...svcOpt) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{}},
		Spec: corev1.ServiceSpec{
			Type:           corev1.ServiceTypeLoadBalancer,
			LoadBalancerIP: ip,
			Ports:          []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
			// No node ports: envtest has a small node port range and no nodes.
			AllocateLoadBalancerNodePorts: ptr.To(false),
		},
	}
	for _, o := range opts {
		o(svc)
	}
	return svc
}

// annotate sets an annotation.
func annotate(k, v string) svcOpt { return func(s *corev1.Service) { s.Annotations[k] = v } }

// port replaces the Service's ports with one TCP port.
func port(p int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{{Name: fmt.Sprintf("p%d", p), Port: p, Protocol: corev1.ProtocolTCP}}
	}
}

// createVsVip creates a VsVip holding ip on vip-net-a (or network) directly
// on the controller, marked created_by createdBy ("" for none), as another
// cluster, another tool or a human would.
func createVsVip(t testing.TB, op *operator.Operator, name, network, ip, createdBy string) {
	t.Helper()
	vip := map[string]any{"vip_id": "1", "ipam_network_subnet": map[string]any{"network_ref": "/api/network/?name=" + network}}
	if ip == "" {
		vip["auto_allocate_ip"] = true
	} else {
		vip["ip_address"] = map[string]any{"addr": ip, "type": "V4"}
	}
	body := map[string]any{"name": name, "cloud_ref": "/api/cloud/?name=Default-Cloud", "vip": []any{vip}}
	if createdBy != "" {
		body["markers"] = []any{map[string]any{"key": "created_by", "values": []string{createdBy}}}
	}
	if err := op.Controller.Create(context.Background(), "vsvip", body, "", nil); err != nil {
		t.Fatalf("creating VsVip %s on the controller: %v", name, err)
	}
}

// ensureIngressClass creates the avi-lb IngressClass (controller
// ako.vmware.com/avi-lb, the cluster default) once per package (it is
// cluster-wide and shared; see createIngressClass) and waits until op's cache
// holds it: vipgate decides which Ingresses are its own by their class, in
// admission as in the reconciler.
func ensureIngressClass(t testing.TB, op *operator.Operator) {
	t.Helper()
	createIngressClass(t)
	waitCached(t, op, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "avi-lb"}}, nil)
}

// ingress is an Ingress of class avi-lb routing host to backend web:80,
// with one tls[] entry for secret when secret is not "".
func ingress(ns, name, host, secret string) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("avi-lb"),
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}},
				}},
			}}}},
		},
	}
	if secret != "" {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: secret}}
	}
	return ing
}

// certPair returns a PEM certificate for host valid in [notBefore, notAfter]
// and its PEM key.
func certPair(t testing.TB, host string, notBefore, notAfter time.Time) (crt, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

// tlsSecret is a kubernetes.io/tls Secret with the given PEM data.
func tlsSecret(ns, name string, crt, key []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	}
}

// webhookClient is an HTTPS client that trusts the CA the API server uses for
// vipgate, so a test reaches the webhook server exactly as the API server does.
func webhookClient(t testing.TB) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(env.CAData) {
		t.Fatal("env.CAData holds no certificate")
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: env.WebhookHost, MinVersion: tls.VersionTLS12}},
	}
}

// webhookURL is the URL of a webhook path on the server vipgate runs for env.
func webhookURL(path string) string {
	return "https://" + net.JoinHostPort(env.WebhookHost, strconv.Itoa(env.WebhookPort)) + path
}

// postReview posts body to a webhook path and returns the status and body.
func postReview(t testing.TB, hc *http.Client, path string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := hc.Post(webhookURL(path), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// reviewFor wraps obj in an AdmissionReview for a CREATE, as the API server sends it.
func reviewFor(t testing.TB, uid string, kind metav1.GroupVersionKind, resource metav1.GroupVersionResource, obj runtime.Object, ns, name string) []byte {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	rev := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID(uid), Kind: kind, Resource: resource, Namespace: ns, Name: name,
			Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw},
		},
	}
	out, err := json.Marshal(rev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// metaName is ObjectMeta with a namespace and name.
func metaName(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
