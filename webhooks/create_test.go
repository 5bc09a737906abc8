package webhooks

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// TestCreateJudge posts creates to the mutating paths (Setup's mux over the
// fuzz fixture's cluster and inventory): a create that leaves with the
// cleanup finalizer was judged there, with the validator's exact message,
// since the validating webhook skips it; one left without the finalizer is
// not judged (the validating webhook is), and an update is never judged there.
func TestCreateJudge(t *testing.T) {
	logf.SetLogger(logr.Discard())
	mux := fuzzWebhookMux(t)
	svc := func(ns, ip string, finalizers ...string) *corev1.Service {
		return &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "new", Finalizers: finalizers},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: ip,
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}},
		}
	}
	ing := func(secret string) *networkingv1.Ingress {
		return &networkingv1.Ingress{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop"},
			Spec: networkingv1.IngressSpec{
				IngressClassName: ptr.To("avi-lb"),
				TLS:              []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com"}, SecretName: secret}},
				Rules: []networkingv1.IngressRule{{Host: "shop.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
						Service: &networkingv1.IngressServiceBackend{Name: "shop", Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
				}}}},
			},
		}
	}
	withAnn := func(s *corev1.Service, k, v string) *corev1.Service {
		s.Annotations = map[string]string{k: v}
		return s
	}
	const classPatch = `{"op":"add","path":"/spec/loadBalancerClass","value":"` + ownership.LBClass + `"}`
	const finalizerPatch = `{"op":"add","path":"/metadata/finalizers","value":["` + ownership.CleanupFinalizer + `"]}`
	for _, tc := range []struct {
		name    string
		path    string
		op      admissionv1.Operation
		obj     runtime.Object
		old     runtime.Object
		denied  string   // the whole message kubectl prints after the webhook's name; "" admits
		patches []string // JSON patch operations, in any order
	}{
		{name: "a Service: class and finalizer added", path: PathMutateService, op: admissionv1.Create, obj: svc("default", ""),
			patches: []string{finalizerPatch, classPatch}},
		{name: "a Service of a missing AviInfraSetting: denied", path: PathMutateService, op: admissionv1.Create, obj: withAnn(svc("default", ""), rules.AnnInfraSetting, "nope"),
			denied: `Service "new" is invalid: metadata.annotations[aviinfrasetting.ako.vmware.com/name]: Invalid value: "nope": no AviInfraSetting with this name exists; create it first, or remove the annotation`},
		{name: "a user's own cleanup finalizer: judged all the same", path: PathMutateService, op: admissionv1.Create, obj: withAnn(svc("default", "", ownership.CleanupFinalizer), rules.AnnInfraSetting, "nope"),
			denied: `Service "new" is invalid: metadata.annotations[aviinfrasetting.ako.vmware.com/name]: Invalid value: "nope": no AviInfraSetting with this name exists; create it first, or remove the annotation`},
		// The validating webhook judges a requested VIP, with spec.ipFamilies set.
		{name: "a Service asking for a VIP another Service holds: not judged here", path: PathMutateService, op: admissionv1.Create, obj: svc("default", "10.50.0.10"),
			patches: []string{finalizerPatch, classPatch}},
		{name: "a VIP in the annotation: not judged here", path: PathMutateService, op: admissionv1.Create, obj: withAnn(svc("default", ""), rules.AnnLoadBalancerIP, "10.50.0.10"),
			patches: []string{finalizerPatch, classPatch}},
		{name: "an unparsable VIP: not rewritten, not judged here", path: PathMutateService, op: admissionv1.Create, obj: svc("default", "10.50.0.300"),
			patches: []string{finalizerPatch, classPatch}},
		{name: "a blocked namespace: no finalizer, not judged here", path: PathMutateService, op: admissionv1.Create, obj: withAnn(svc("blocked", ""), rules.AnnInfraSetting, "nope")},
		{name: "an update is not judged here", path: PathMutateService, op: admissionv1.Update, obj: withAnn(svc("default", ""), rules.AnnInfraSetting, "nope"), old: svc("default", "")},
		{name: "an Ingress with its TLS Secret: finalizer added", path: PathMutateIngress, op: admissionv1.Create, obj: ing("shop-tls"), patches: []string{finalizerPatch}},
		{name: "an Ingress whose TLS Secret is missing: denied", path: PathMutateIngress, op: admissionv1.Create, obj: ing("nope"),
			denied: `Ingress.networking.k8s.io "shop" is invalid: spec.tls[0].secretName: Invalid value: "nope": Secret default/nope does not exist; create it (kubectl create secret tls nope -n default --cert=<file> --key=<file>), or annotate the Ingress with cert-manager.io/cluster-issuer or cert-manager.io/issuer so cert-manager issues it`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := func(o runtime.Object) runtime.RawExtension {
				if o == nil {
					return runtime.RawExtension{}
				}
				b, err := json.Marshal(o)
				if err != nil {
					t.Fatal(err)
				}
				return runtime.RawExtension{Raw: b}
			}
			review := admissionv1.AdmissionReview{
				TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
				Request: &admissionv1.AdmissionRequest{
					UID: types.UID("u-1"), Operation: tc.op, Object: raw(tc.obj), OldObject: raw(tc.old),
					Kind:      metav1.GroupVersionKind{Version: "v1", Kind: tc.obj.GetObjectKind().GroupVersionKind().Kind},
					Namespace: tc.obj.(metav1.Object).GetNamespace(), Name: tc.obj.(metav1.Object).GetName(),
				},
			}
			if strings.Contains(tc.path, "ingress") {
				review.Request.Kind.Group = "networking.k8s.io"
			}
			body, _ := json.Marshal(review)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, tc.path+"?timeout=5s", bytes.NewReader(body)))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
				t.Fatalf("answer %s: %v", rec.Body, err)
			}
			res := out.Response
			if tc.denied != "" {
				if res.Allowed || res.Result == nil || res.Result.Message != tc.denied || res.Result.Code != http.StatusUnprocessableEntity {
					t.Fatalf("answer %+v (result %+v); want denied with 422 and message\n%s", res, res.Result, tc.denied)
				}
				if len(res.Patch) != 0 {
					t.Errorf("a denial carries a patch: %s", res.Patch)
				}
				return
			}
			if !res.Allowed {
				t.Fatalf("denied: %+v", res.Result)
			}
			var ops []json.RawMessage
			if len(res.Patch) > 0 {
				if err := json.Unmarshal(res.Patch, &ops); err != nil {
					t.Fatalf("patch %s: %v", res.Patch, err)
				}
			}
			var got []string
			for _, o := range ops {
				var buf bytes.Buffer
				if err := json.Compact(&buf, o); err != nil {
					t.Fatal(err)
				}
				got = append(got, buf.String())
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.patches))
			if !slices.Equal(got, want) {
				t.Errorf("patch:\n got %s\nwant %s", got, want)
			}
		})
	}
}
