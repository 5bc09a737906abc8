package webhooks

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
