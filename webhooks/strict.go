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
	admissionv1beta1 "k8s.io/api/admission/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
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
		review, gvk, msg := decodeReview(body)
		if msg != "" {
			http.Error(w, "malformed AdmissionReview: "+msg, http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), budget(r))
		defer cancel()
		if h, ok := next.(reviewHandler); ok {
			// The review is decoded already: hand it over rather than have
			// the webhook decode the body a second time (two calls per
			// Service create, each request carrying the whole object).
			respond(w, h.Handle(ctx, admission.Request{AdmissionRequest: *review.Request}), gvk)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// reviewHandler is what *admission.Webhook offers besides ServeHTTP: the
// handling of a decoded request.
type reviewHandler interface {
	Handle(context.Context, admission.Request) admission.Response
}

// respond writes res as an AdmissionReview of the request's version, as
// admission.Webhook.ServeHTTP does.
func respond(w http.ResponseWriter, res admission.Response, gvk schema.GroupVersionKind) {
	out := admissionv1.AdmissionReview{Response: &res.AdmissionResponse}
	out.SetGroupVersionKind(gvk)
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		// Only a broken connection fails here; nothing reaches the caller.
		return
	}
}

// reviewDecoder decodes a review exactly as controller-runtime's admission
// handler does (its own scheme and codec factory, v1beta1 coerced into v1).
// That decoder differs from encoding/json: field names are case-sensitive,
// so a request whose "UID" encoding/json reads as the uid has none there,
// and the handler would answer 200 with an empty uid, which the API server
// cannot match to its request.
var reviewDecoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	utilruntime.Must(admissionv1.AddToScheme(s))
	utilruntime.Must(admissionv1beta1.AddToScheme(s))
	return serializer.NewCodecFactory(s).UniversalDeserializer()
}()

// anyVersionReview is not registered in reviewDecoder's scheme, so the
// decoder fills it from either version instead of refusing v1beta1.
type anyVersionReview struct{ admissionv1.AdmissionReview }

// decodeReview decodes a review as the admission handler would and says
// what is wrong with it ("" when nothing), with the version it came in.
func decodeReview(body []byte) (review *anyVersionReview, gvk schema.GroupVersionKind, msg string) {
	fail := func(m string) (*anyVersionReview, schema.GroupVersionKind, string) {
		return nil, schema.GroupVersionKind{}, m
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fail("empty body")
	}
	// apiVersion and kind are read as the API machinery reads them (encoding/json).
	var tm metav1.TypeMeta
	if err := json.Unmarshal(body, &tm); err != nil {
		return fail(fmt.Sprintf("not JSON of an AdmissionReview (%v)", err))
	}
	if tm.Kind != "AdmissionReview" {
		return fail(fmt.Sprintf("kind is %q, want AdmissionReview", tm.Kind))
	}
	// controller-runtime decodes any group/version and answers in it; the
	// API server would refuse that answer.
	if tm.APIVersion != admissionv1.SchemeGroupVersion.String() && tm.APIVersion != admissionv1beta1.SchemeGroupVersion.String() {
		return fail(fmt.Sprintf("apiVersion is %q, want %s or %s", tm.APIVersion, admissionv1.SchemeGroupVersion, admissionv1beta1.SchemeGroupVersion))
	}
	review = &anyVersionReview{}
	review.SetGroupVersionKind(admissionv1.SchemeGroupVersion.WithKind("AdmissionReview"))
	if _, _, err := reviewDecoder.Decode(body, nil, review); err != nil {
		return fail(fmt.Sprintf("not JSON of an AdmissionReview (%v)", err))
	}
	if review.Request == nil {
		return fail("request is missing")
	}
	if review.Request.UID == "" {
		return fail("request.uid is missing")
	}
	if review.Request.Operation != admissionv1.Delete && len(review.Request.Object.Raw) == 0 {
		return fail("request.object is missing")
	}
	return review, schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind), ""
}
