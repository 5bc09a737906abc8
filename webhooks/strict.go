package webhooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
)

// maxReviewBytes bounds a request body; the API server never sends more than a few MiB.
const maxReviewBytes = 7 << 20

// Strict rejects a request that is not a well-formed AdmissionReview with HTTP
// 400 and a plain message before it reaches the admission handler, which would
// otherwise answer 200 with an error inside a review the caller cannot parse.
func Strict(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "admission webhooks accept POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxReviewBytes+1))
		if err != nil {
			http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) > maxReviewBytes {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if msg := checkReview(body); msg != "" {
			http.Error(w, "malformed AdmissionReview: "+msg, http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		next.ServeHTTP(w, r)
	})
}

func checkReview(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "empty body"
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		return fmt.Sprintf("not JSON of an AdmissionReview (%v)", err)
	}
	if review.Kind != "AdmissionReview" {
		return fmt.Sprintf("kind is %q, want AdmissionReview", review.Kind)
	}
	if review.Request == nil {
		return "request is missing"
	}
	if review.Request.UID == "" {
		return "request.uid is missing"
	}
	if review.Request.Operation != admissionv1.Delete && len(review.Request.Object.Raw) == 0 {
		return "request.object is missing"
	}
	return ""
}
