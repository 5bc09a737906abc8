package webhooks

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

func TestStrictRejectsMalformedReviews(t *testing.T) {
	reached := false
	h := Strict(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(b), `"uid":"1"`) {
			t.Errorf("handler got a different body: %s", b)
		}
		w.WriteHeader(http.StatusOK)
	}))
	valid := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","operation":"CREATE","object":{"kind":"Service"}}}`
	tests := []struct {
		name, method, body string
		code               int
		msg                string
	}{
		{"valid review reaches the handler", http.MethodPost, valid, http.StatusOK, ""},
		{"GET", http.MethodGet, valid, http.StatusMethodNotAllowed, "admission webhooks accept POST only"},
		{"empty body", http.MethodPost, "", http.StatusBadRequest, "malformed AdmissionReview: empty body"},
		{"not JSON", http.MethodPost, "<xml/>", http.StatusBadRequest, "malformed AdmissionReview: not JSON of an AdmissionReview"},
		{"wrong kind", http.MethodPost, `{"kind":"Pod"}`, http.StatusBadRequest, `malformed AdmissionReview: kind is "Pod", want AdmissionReview`},
		{"no apiVersion", http.MethodPost, `{"kind":"AdmissionReview","request":{"uid":"1","operation":"CREATE","object":{}}}`, http.StatusBadRequest, `malformed AdmissionReview: apiVersion is "", want admission.k8s.io/v1 or admission.k8s.io/v1beta1`},
		{"foreign apiVersion", http.MethodPost, `{"apiVersion":"example.com/v1","kind":"AdmissionReview","request":{"uid":"1","operation":"CREATE","object":{}}}`, http.StatusBadRequest, `malformed AdmissionReview: apiVersion is "example.com/v1", want admission.k8s.io/v1 or admission.k8s.io/v1beta1`},
		{"v1beta1 reaches the handler", http.MethodPost, `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"1","operation":"CREATE","object":{}}}`, http.StatusOK, ""},
		// The handler's decoder matches field names case-sensitively: "UID" is no uid there.
		{"uid spelt UID", http.MethodPost, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"UID":"1","operation":"CREATE","object":{}}}`, http.StatusBadRequest, "malformed AdmissionReview: request.uid is missing"},
		{"object spelt Object", http.MethodPost, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","operation":"CREATE","Object":{}}}`, http.StatusBadRequest, "malformed AdmissionReview: request.object is missing"},
		{"no request", http.MethodPost, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, http.StatusBadRequest, "malformed AdmissionReview: request is missing"},
		{"no uid", http.MethodPost, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE","object":{}}}`, http.StatusBadRequest, "malformed AdmissionReview: request.uid is missing"},
		{"no object on create", http.MethodPost, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","operation":"CREATE"}}`, http.StatusBadRequest, "malformed AdmissionReview: request.object is missing"},
		{"delete needs no object", http.MethodPost, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","operation":"DELETE","oldObject":{}}}`, http.StatusOK, ""},
		{"too large", http.MethodPost, strings.Repeat(" ", maxReviewBytes+1), http.StatusRequestEntityTooLarge, "request body too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached = false
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, PathValidateService, strings.NewReader(tt.body)))
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tt.code, rec.Body.String())
			}
			if tt.msg != "" && !strings.Contains(rec.Body.String(), tt.msg) {
				t.Errorf("body %q lacks %q", rec.Body.String(), tt.msg)
			}
			if reached != (tt.code == http.StatusOK) {
				t.Errorf("handler reached = %v", reached)
			}
		})
	}
}

// TestStrictHandsTheDecodedReviewToTheWebhook: behind Strict an
// admission.Webhook is handed the review Strict decoded, and the answer is
// the one its own ServeHTTP gives: an AdmissionReview of the request's
// version, the request's uid, the verdict and the patch.
func TestStrictHandsTheDecodedReviewToTheWebhook(t *testing.T) {
	wh := &admission.Webhook{Handler: admission.HandlerFunc(func(_ context.Context, req admission.Request) admission.Response {
		if req.Name == "bad" {
			return admission.Denied("bad name")
		}
		return admission.PatchResponseFromRaw(req.Object.Raw, []byte(`{"kind":"Service","metadata":{"name":"web","labels":{"a":"b"}}}`))
	})}
	review := func(version, name string) string {
		return `{"apiVersion":"admission.k8s.io/` + version + `","kind":"AdmissionReview","request":{"uid":"u-` + name +
			`","name":"` + name + `","operation":"CREATE","object":{"kind":"Service","metadata":{"name":"` + name + `"}}}}`
	}
	tests := []struct {
		name, body, wantVersion, wantUID string
		allowed                          bool
		wantPatch                        string
	}{
		{"v1 allowed with a patch", review("v1", "web"), "admission.k8s.io/v1", "u-web", true, `[{"op":"add","path":"/metadata/labels","value":{"a":"b"}}]`},
		{"v1beta1 answered in v1beta1", review("v1beta1", "web"), "admission.k8s.io/v1beta1", "u-web", true, `[{"op":"add","path":"/metadata/labels","value":{"a":"b"}}]`},
		{"denied", review("v1", "bad"), "admission.k8s.io/v1", "u-bad", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, h := range []http.Handler{Strict(wh), wh} {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodPost, PathMutateService, strings.NewReader(tt.body))
				req.Header.Set("Content-Type", "application/json")
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d (%s)", rec.Code, rec.Body.String())
				}
				var got admissionv1.AdmissionReview
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Response == nil {
					t.Fatalf("answer %s: %v", rec.Body.String(), err)
				}
				if got.APIVersion != tt.wantVersion || got.Kind != "AdmissionReview" || string(got.Response.UID) != tt.wantUID || got.Response.Allowed != tt.allowed || string(got.Response.Patch) != tt.wantPatch {
					t.Errorf("answer %s: want %s, uid %s, allowed %v, patch %s", rec.Body.String(), tt.wantVersion, tt.wantUID, tt.allowed, tt.wantPatch)
				}
			}
		})
	}
}
