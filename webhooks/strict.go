package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
)

// defaultBudget bounds a review when the API server sends no timeout: a
// little under the 5 s the configurations set, so an answer (admitting with
// a warning when a lookup ran out of time) always arrives before the API
// server gives up.
const defaultBudget = 4 * time.Second

// budget is how long a review may take: the timeout the API server passes
// in the URL (?timeout=5s) less a margin for the answer's trip back.
func budget(r *http.Request) time.Duration {
	d, err := time.ParseDuration(r.URL.Query().Get("timeout"))
	if err != nil || d <= 0 {
		return defaultBudget
	}
	return max(d-d/5, 100*time.Millisecond)
}

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
		ctx, cancel := context.WithTimeout(r.Context(), budget(r))
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
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
