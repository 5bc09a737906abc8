package reconcile

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/ownership"
)

// tlsSecret is what the L7 reconciler needs of a TLS Secret: its data (the
// certificate and key it uploads), its summary (what the rule book judges)
// and its annotations (the default certificate's opt-in).
type tlsSecret struct {
	resourceVersion string
	annotations     map[string]string
	data            map[string][]byte
	summary         ownership.TLSSecretSummary
}

// secretStore keeps the Secrets of secure hosts per resourceVersion, so a
// shard with many secure hosts reads and parses each Secret's content from
// the API server once per change, not once per sync. The cache (metadata
// and summary only) tells the version. It is a cache, not truth: a Secret
// that is gone is forgotten, key material included, as soon as it is asked for.
type secretStore struct {
	mu  sync.Mutex
	got map[string]*tlsSecret
}

// get returns the Secret, nil when it does not exist; an error is a read that failed.
func (s *secretStore) get(ctx context.Context, cached, api client.Reader, namespace, name string) (*tlsSecret, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	var meta corev1.Secret
	if err := cached.Get(ctx, key, &meta); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
		s.forget(key.String())
		return s.notCached(ctx, api, key)
	}
	s.mu.Lock()
	have := s.got[key.String()]
	s.mu.Unlock()
	if have != nil && have.resourceVersion == meta.ResourceVersion {
		return have, nil
	}
	sec, err := readSecretAt(ctx, api, key, meta.ResourceVersion)
	if err != nil {
		if apierrors.IsNotFound(err) {
			s.forget(key.String())
			return nil, nil
		}
		return nil, err
	}
	have = tlsSecretOf(sec)
	s.mu.Lock()
	if s.got == nil {
		s.got = map[string]*tlsSecret{}
	}
	s.got[key.String()] = have
	s.mu.Unlock()
	return have, nil
}

// notCached reads a Secret the cache does not hold. The cache holds only
// Secrets of type kubernetes.io/tls (the operator's cache options), the only type
// a certificate may come from, so one of another type is read here to say
// what it is rather than that it is missing. Nothing is kept: its data are
// neither a certificate nor vipgate's business.
func (s *secretStore) notCached(ctx context.Context, api client.Reader, key types.NamespacedName) (*tlsSecret, error) {
	var sec corev1.Secret
	if err := api.Get(ctx, key, &sec); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	if sec.Type == corev1.SecretTypeTLS {
		// Not in the cache yet (created a moment ago): read as a TLS Secret.
		return tlsSecretOf(&sec), nil
	}
	return &tlsSecret{resourceVersion: sec.ResourceVersion, summary: ownership.TLSSecretSummary{Type: sec.Type}}, nil
}

// tlsSecretOf is what the reconciler keeps of a TLS Secret it read.
func tlsSecretOf(sec *corev1.Secret) *tlsSecret {
	return &tlsSecret{resourceVersion: sec.ResourceVersion, annotations: sec.Annotations, data: sec.Data, summary: ownership.SummarizeTLSSecret(sec)}
}

// readSecretAt reads a Secret in full, at least as new as resourceVersion
// (the version the cache holds). A read at a resourceVersion is answered
// from the API server's watch cache instead of a quorum read of etcd: one
// read per Secret of a burst of secure Ingresses costs the API server and
// etcd much less. A watch cache that cannot answer it (behind, or a version
// it has compacted away) gets the plain read.
func readSecretAt(ctx context.Context, api client.Reader, key types.NamespacedName, resourceVersion string) (*corev1.Secret, error) {
	var sec corev1.Secret
	if resourceVersion != "" {
		err := api.Get(ctx, key, &sec, &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: resourceVersion}})
		switch {
		case err == nil:
			return &sec, nil
		case apierrors.IsNotFound(err):
			return nil, err
		}
		sec = corev1.Secret{}
	}
	if err := api.Get(ctx, key, &sec); err != nil {
		return nil, err
	}
	return &sec, nil
}

func (s *secretStore) forget(key string) {
	s.mu.Lock()
	delete(s.got, key)
	s.mu.Unlock()
}

// secretCache is where Secrets' versions are read: the transformed cache, or
// the client when none is set (tests).
func (r *IngressReconciler) secretCache() client.Reader {
	if r.SecretCache != nil {
		return r.SecretCache
	}
	return r.Client
}
