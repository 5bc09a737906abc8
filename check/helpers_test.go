package check

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/rules"
)

// now is the fixed clock of the tests; testdata/inventory.json was fetched an hour before.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// demoSettings: cluster "demo", AKO defaults, vipNetworkList vip-net-a.
func demoSettings(mods ...func(*config.Settings)) *config.Settings {
	s := config.Defaults()
	s.AKOSettings.ClusterName = "demo"
	s.ControllerSettings.ControllerHost = "controller.example.com"
	s.NetworkSettings.VIPNetworkList = []config.VIPNetwork{{NetworkName: "vip-net-a"}}
	for _, m := range mods {
		m(&s)
	}
	return &s
}

// demoInventory reads testdata/inventory.json.
func demoInventory(t testing.TB) *inventory.Snapshot {
	t.Helper()
	f, err := os.Open("testdata/inventory.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, _, err := ReadInventory(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// certPair is a self-signed certificate for host valid from notBefore to notAfter, and its key.
func certPair(t testing.TB, host string, notBefore, notAfter time.Time) (crt, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host},
		DNSNames: []string{host}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// tlsSecretYAML is a kubernetes.io/tls Secret manifest with data.
func tlsSecretYAML(ns, name string, crt, key []byte) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %s, namespace: %s}
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
`, name, ns, base64.StdEncoding.EncodeToString(crt), base64.StdEncoding.EncodeToString(key))
}

// tlsSecretStringDataYAML is the same Secret written with stringData.
func tlsSecretStringDataYAML(ns, name string, crt, key []byte) string {
	indent := func(b []byte) string {
		return "    " + strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n    ")
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %s, namespace: %s}
type: kubernetes.io/tls
stringData:
  tls.crt: |
%s
  tls.key: |
%s
`, name, ns, indent(crt), indent(key))
}

// decode reads a manifest stream for a test.
func decode(t *testing.T, manifests string) []Object {
	t.Helper()
	objs, err := Decode("set.yaml", strings.NewReader(manifests), "default")
	if err != nil {
		t.Fatal(err)
	}
	if err := noDuplicates(objs); err != nil {
		t.Fatal(err)
	}
	return objs
}

// fixedSource is an inventory.Source of one snapshot (nil: never loaded).
type fixedSource struct{ s *inventory.Snapshot }

func (f fixedSource) Snapshot() *inventory.Snapshot { return f.s }

// scheme is the operator's (operator.Scheme): Kubernetes' types and AviInfraSetting.
func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1beta1.AddToScheme(s))
	utilruntime.Must(v1alpha2.AddToScheme(s))
	return s
}

// indexRecorder hands cluster.SetupIndexes' indexes to a fake client builder,
// so the fake cache answers the webhook's field-index queries.
type indexRecorder struct{ b *fake.ClientBuilder }

func (r indexRecorder) IndexField(_ context.Context, obj client.Object, field string, fn client.IndexerFunc) error {
	r.b.WithIndex(obj, field, fn)
	return nil
}

// certManagerLookups is the webhook's lookups with cert-manager Certificates
// answered from a list: cluster.CacheLookups reaches them through a lazily
// started informer that a fake client cannot provide.
type certManagerLookups struct {
	*cluster.CacheLookups
	certs []*Certificate
}

func (l certManagerLookups) CertManagerCertificateForSecret(_ context.Context, namespace, secret string) (bool, error) {
	return slices.ContainsFunc(l.certs, func(c *Certificate) bool { return c.Namespace == namespace && c.SecretName == secret }), nil
}

// webhookSays is what vipgate's validating webhook answers for the create of
// target into a cluster that holds the other objects of objs (and the
// IngressClasses classes): the rule book over the webhook's own lookups
// (cluster.CacheLookups) on a cache filled as the informers fill it —
// Secrets through ownership.TransformSecret, Services as the mutating webhook
// stores them, AviInfraSettings with the status the real
// reconcile.InfraSettingReconciler writes — and the webhook's error
// (apierrors.NewInvalid). It is independent of Set.
func webhookSays(t *testing.T, objs []Object, target Object, classes []networkingv1.IngressClass, s *config.Settings, inv *inventory.Snapshot) (warnings []string, err error) {
	t.Helper()
	ctx := context.Background()
	b := fake.NewClientBuilder().WithScheme(scheme()).WithStatusSubresource(&v1beta1.AviInfraSetting{})
	if err := cluster.SetupIndexes(ctx, indexRecorder{b}); err != nil {
		t.Fatal(err)
	}
	var certs []*Certificate
	var infra []string
	for _, o := range objs {
		if o.Source == target.Source {
			continue // a create: the object is not in the cluster yet
		}
		var obj client.Object
		switch v := o.Obj.(type) {
		case *corev1.Service:
			c := v.DeepCopy()
			c.Status = corev1.ServiceStatus{}
			if ownership.OwnsService(c, s) { // webhooks' serviceDefaulter
				if ip, ok := rules.CanonicalIP(c.Spec.LoadBalancerIP); ok { //nolint:staticcheck
					c.Spec.LoadBalancerIP = ip //nolint:staticcheck
				}
				if ip, ok := rules.CanonicalIP(c.Annotations[rules.AnnLoadBalancerIP]); ok {
					c.Annotations[rules.AnnLoadBalancerIP] = ip
				}
			}
			obj = c
		case *networkingv1.Ingress:
			obj = v.DeepCopy()
		case *networkingv1.IngressClass:
			obj = v.DeepCopy()
		case *corev1.Namespace:
			obj = v.DeepCopy()
		case *v1beta1.AviInfraSetting:
			c := v.DeepCopy()
			c.Status = v1beta1.AviInfraSettingStatus{}
			obj = c
			infra = append(infra, c.Name)
		case *corev1.Secret:
			c := v.DeepCopy()
			for k, val := range c.StringData { // the API server's merge
				if c.Data == nil {
					c.Data = map[string][]byte{}
				}
				c.Data[k] = []byte(val)
			}
			out, err := ownership.TransformSecret(c)
			if err != nil {
				t.Fatal(err)
			}
			obj = out.(*corev1.Secret)
		case *Certificate:
			certs = append(certs, v)
			continue
		case *v1beta1.HostRule, *v1beta1.HTTPRule, *v1alpha2.L4Rule:
			obj = v.(client.Object).DeepCopyObject().(client.Object)
		default:
			continue
		}
		b.WithObjects(obj)
	}
	for i := range classes {
		if !slices.ContainsFunc(objs, func(o Object) bool { return o.Kind == KindIngressClass && o.Name == classes[i].Name }) {
			b.WithObjects(classes[i].DeepCopy())
		}
	}
	c := b.Build()
	lk := certManagerLookups{&cluster.CacheLookups{Cache: c, Settings: s}, certs}
	var src inventory.Source = fixedSource{inv}
	if inv == nil {
		src = nil
	}
	for _, name := range infra {
		r := &reconcile.InfraSettingReconciler{Client: c, Settings: s, Inventory: src, Lookups: lk}
		if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	env := rules.NewEnv(ctx, s, src, lk, 3*time.Hour, now)
	var res rules.Result
	switch v := target.Obj.(type) {
	case *corev1.Service:
		svc := v.DeepCopy()
		if ip, ok := rules.CanonicalIP(svc.Spec.LoadBalancerIP); ok { //nolint:staticcheck
			svc.Spec.LoadBalancerIP = ip //nolint:staticcheck
		}
		res = rules.ValidateService(svc, nil, env)
		if !res.Allowed() {
			err = apierrors.NewInvalid(ServiceGK, svc.Name, res.Errors)
		}
	case *networkingv1.Ingress:
		res = rules.ValidateIngress(v, nil, env)
		if !res.Allowed() {
			err = apierrors.NewInvalid(IngressGK, v.Name, res.Errors)
		}
	case *v1beta1.AviInfraSetting:
		res = rules.ValidateAviInfraSetting(v, env)
		if !res.Allowed() {
			err = apierrors.NewInvalid(AviInfraSettingGK, v.Name, res.Errors)
		}
	case *v1beta1.HostRule:
		res = rules.ValidateHostRule(v, nil, env)
		if !res.Allowed() {
			err = apierrors.NewInvalid(HostRuleGK, v.Name, res.Errors)
		}
	case *v1beta1.HTTPRule:
		res = rules.ValidateHTTPRule(v, nil, env)
		if !res.Allowed() {
			err = apierrors.NewInvalid(HTTPRuleGK, v.Name, res.Errors)
		}
	case *v1alpha2.L4Rule:
		res = rules.ValidateL4Rule(v, nil, env)
		if !res.Allowed() {
			err = apierrors.NewInvalid(L4RuleGK, v.Name, res.Errors)
		}
	default:
		t.Fatalf("webhookSays: %s is not judged by a webhook", target.Ref())
	}
	return res.Warnings, err
}
