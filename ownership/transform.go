package ownership

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
)

// TransformCached is the default transform of every informer: it drops what
// no reader of the cache uses and what can be as large as the object itself,
// managedFields and kubectl's last-applied-configuration annotation (a full
// copy of the object as the user applied it). Secrets go through
// TransformSecret. The objects are cached smaller; what the API server holds
// is untouched: vipgate changes Services and Ingresses only by patches
// computed between two cached copies (neither has the annotation, so no
// patch removes it), never by an update of a cached object.
//
// It mutates the object in place (client-go allows it for transforms) and is
// idempotent. Anything that is not an object passes through unchanged.
func TransformCached(obj any) (any, error) {
	if sec, ok := obj.(*corev1.Secret); ok {
		return TransformSecret(sec)
	}
	o, err := meta.Accessor(obj)
	if err != nil {
		return obj, nil
	}
	o.SetManagedFields(nil)
	if ann := o.GetAnnotations(); ann != nil {
		if _, ok := ann[corev1.LastAppliedConfigAnnotation]; ok {
			delete(ann, corev1.LastAppliedConfigAnnotation)
			if len(ann) == 0 {
				ann = nil
			}
			o.SetAnnotations(ann)
		}
	}
	return obj, nil
}
