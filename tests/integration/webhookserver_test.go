package integration

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/webhooks"
)

// TestWebhookServerRejectsMalformedReviews talks to vipgate's webhook server
// over TLS directly, as a misbehaving client would: every path answers a
// request that is not a well-formed AdmissionReview with HTTP 400 (never a
// panic, never a 200 with an error the caller cannot parse), and the server
// still answers a well-formed review afterwards.
func TestWebhookServerRejectsMalformedReviews(t *testing.T) {
	_, _ = startReal(t, avisim.DemoSeed(), nil)
	hc := webhookClient(t)
	svcJSON := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"x","namespace":"default"},"spec":{"type":"LoadBalancer","ports":[{"port":80}]}}`
	bodies := []struct{ name, body string }{
		{"empty body", ""},
		{"whitespace only", " \n\t"},
		{"not JSON", "<AdmissionReview/>"},
		{"truncated JSON", `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"1"`},
		{"JSON of another kind", `{"kind":"Pod","apiVersion":"v1"}`},
		{"request missing", `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}`},
		{"request null", `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":null}`},
		{"request.uid missing", `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"operation":"CREATE","object":` + svcJSON + `}}`},
		{"request.object missing", `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u1","operation":"CREATE"}}`},
		{"request of the wrong JSON type", `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":[1,2]}`},
	}
	paths := []string{webhooks.PathMutateService, webhooks.PathValidateService, webhooks.PathValidateIngress, webhooks.PathValidateAviInfraSetting}
	for _, p := range paths {
		for _, b := range bodies {
			t.Run(p+" "+b.name, func(t *testing.T) {
				code, out := postReview(t, hc, p, []byte(b.body))
				if code != http.StatusBadRequest {
					t.Errorf("status %d, want 400; body: %s", code, out)
				}
				if !strings.Contains(string(out), "malformed AdmissionReview") {
					t.Errorf("body does not say what is wrong: %s", out)
				}
			})
		}
		t.Run(p+" GET", func(t *testing.T) {
			resp, err := hc.Get(webhookURL(p))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("GET: status %d, want 405", resp.StatusCode)
			}
		})
	}
	t.Run("body over the size limit", func(t *testing.T) {
		code, _ := postReview(t, hc, webhooks.PathValidateService, bytes.Repeat([]byte(" "), 8<<20))
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", code)
		}
	})

	// Still serving: a well-formed review gets a 200 with its uid echoed.
	svc := lbService("default", "alive", "10.10.0.5")
	svc.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}
	body := reviewFor(t, "uid-alive", metav1.GroupVersionKind{Version: "v1", Kind: "Service"}, metav1.GroupVersionResource{Version: "v1", Resource: "services"}, svc, "default", "alive")
	code, out := postReview(t, hc, webhooks.PathValidateService, body)
	var rev admissionv1.AdmissionReview
	if code != http.StatusOK || json.Unmarshal(out, &rev) != nil || rev.Response == nil {
		t.Fatalf("well-formed review: status %d body %s", code, out)
	}
	if rev.Response.UID != "uid-alive" || rev.Response.Allowed || !strings.Contains(rev.Response.Result.Message, `spec.loadBalancerIP: Invalid value: "10.10.0.5"`) {
		t.Errorf("well-formed review: %+v", rev.Response)
	}
}

// TestWebhookServerTLSVersions checks the webhook server speaks TLS 1.2 and
// 1.3 only: a TLS 1.1 client is refused during the handshake.
func TestWebhookServerTLSVersions(t *testing.T) {
	_, _ = startReal(t, avisim.DemoSeed(), nil)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(env.CAData)
	addr := net.JoinHostPort(env.WebhookHost, strconv.Itoa(env.WebhookPort))
	dial := func(minV, maxV uint16) error {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: env.WebhookHost, MinVersion: minV, MaxVersion: maxV})
		if err == nil {
			conn.Close()
		}
		return err
	}
	if err := dial(tls.VersionTLS10, tls.VersionTLS11); err == nil {
		t.Errorf("a TLS 1.1 client completed the handshake; want it refused")
	} else {
		t.Logf("TLS 1.1 refused: %v", err)
	}
	if err := dial(tls.VersionTLS10, tls.VersionTLS10); err == nil {
		t.Errorf("a TLS 1.0 client completed the handshake; want it refused")
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		if err := dial(v, v); err != nil {
			t.Errorf("%s: %v", tls.VersionName(v), err)
		}
	}
}
