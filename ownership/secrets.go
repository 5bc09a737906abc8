package ownership

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// AnnTLSSummary holds, on vipgate's cached copy of a Secret only, the JSON
// TLSSecretSummary of its tls.crt/tls.key. TransformSecret writes it
// when the informer receives the Secret and drops the data, so admission
// judges TLS Secrets from memory without holding key material or calling the
// API server.
//
// It never reaches the API server: only cached copies carry it, vipgate never
// writes Secrets (the manager's client reads them from the API server, and
// nothing patches or updates them), and a value a user puts there is
// discarded by TransformSecret (see summaryNonce).
const AnnTLSSummary = "vipgate.ako.vmware.com/tls-summary"

// summaryNonce prefixes every summary this process writes. It never leaves the
// process, so a summary a user wrote into the annotation on the API server
// cannot carry it and is dropped rather than trusted; and the transform can
// still recognise its own output when it is handed an already transformed
// Secret again (client-go asks transforms to be idempotent: a watch-list
// initial sync passes each object through twice).
var summaryNonce = func() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b) + ":"
}()

// TransformSecret is the Secret informer's transform. For a Secret with
// tls.crt or tls.key it stores SummarizeTLSSecret in AnnTLSSummary; for
// every Secret it then drops Data and StringData, the last-applied
// annotation (kubectl apply copies the whole Secret, data included, into it)
// and managedFields, so the cache keeps metadata and a summary only: no key
// material, and about the memory of a metadata-only cache.
//
// It mutates the object in place, which client-go allows for transforms
// (v1.27+: the transform sees the object before anyone else), and is
// idempotent. Objects other than *corev1.Secret pass through unchanged.
func TransformSecret(obj any) (any, error) {
	sec, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil
	}
	ann := sec.Annotations
	own := strings.HasPrefix(ann[AnnTLSSummary], summaryNonce)
	switch {
	case sec.Data == nil && own:
		// Already transformed: keep the summary.
	case len(sec.Data[corev1.TLSCertKey]) > 0 || len(sec.Data[corev1.TLSPrivateKeyKey]) > 0:
		raw, err := json.Marshal(SummarizeTLSSecret(sec))
		if err != nil {
			return nil, err
		}
		if ann == nil {
			ann = map[string]string{}
		}
		ann[AnnTLSSummary] = summaryNonce + string(raw)
	default:
		delete(ann, AnnTLSSummary) // not ours: never trust it
	}
	delete(ann, corev1.LastAppliedConfigAnnotation)
	if len(ann) == 0 {
		ann = nil
	}
	sec.Annotations = ann
	sec.Data, sec.StringData, sec.ManagedFields = nil, nil, nil
	return sec, nil
}

// TLSSummaryOf returns the summary of a Secret read from the transformed
// cache. Without one (no tls.crt or tls.key) the summary is the type alone,
// which the rule book judges as "has no tls.crt" or "is not of type
// kubernetes.io/tls", exactly as from the full Secret.
func TLSSummaryOf(sec *corev1.Secret) TLSSecretSummary {
	if v, ok := strings.CutPrefix(sec.Annotations[AnnTLSSummary], summaryNonce); ok {
		var s TLSSecretSummary
		if err := json.Unmarshal([]byte(v), &s); err == nil {
			s.Type = sec.Type
			return s
		}
	}
	return TLSSecretSummary{Type: sec.Type}
}
