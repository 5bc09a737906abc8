package cluster

import (
	"context"
	"fmt"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ClusterWideIndexer registers field indexes that are only ever queried
// across every namespace with one key per value, where the manager's
// FieldIndexer writes two (one for the object's namespace, one for all
// namespaces) for every namespaced object. vipgate queries most of its
// indexes cluster-wide (a VIP, an Avi name or a host is unique across the
// cluster, not per namespace), and at 10,000 Services and 5,000 Ingresses
// the second keys cost about 10 MB of sets nobody reads. The indexes in
// Namespaced are queried within a namespace and go to Fallback unchanged.
//
// The keys are the ones controller-runtime's cache reader looks up for a
// List with client.MatchingFields and no namespace ("field:<name>" index,
// "__all_namespaces/<value>" key); TestClusterWideIndexes checks that
// against the real cache.
type ClusterWideIndexer struct {
	Informers cache.Informers
	Fallback  client.FieldIndexer
	// Namespaced names the indexes some query reads with client.InNamespace.
	Namespaced map[string]bool
}

// NamespacedIndexes are vipgate's indexes that some query reads within one
// namespace (client.InNamespace with client.MatchingFields).
var NamespacedIndexes = map[string]bool{IndexServiceSharedKey: true, IndexSlicePod: true, IndexCertSecretName: true}

// allNamespacesKey is controller-runtime's index key of value for a List
// across every namespace.
func allNamespacesKey(value string) string { return "__all_namespaces/" + value }

// IndexField registers the index on obj's informer.
func (x ClusterWideIndexer) IndexField(ctx context.Context, obj client.Object, field string, extract client.IndexerFunc) error {
	if x.Namespaced[field] {
		return x.Fallback.IndexField(ctx, obj, field, extract)
	}
	inf, err := x.Informers.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return err
	}
	return inf.AddIndexers(toolscache.Indexers{"field:" + field: func(raw any) ([]string, error) {
		o, ok := raw.(client.Object)
		if !ok {
			return nil, fmt.Errorf("object of type %T is not an Object", raw)
		}
		vals := extract(o)
		keys := make([]string, len(vals))
		for i, v := range vals {
			keys[i] = allNamespacesKey(v)
		}
		return keys, nil
	}})
}
