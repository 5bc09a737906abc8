package harness

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/vipgate/vipgate/ownership"
)

var (
	nameSeq atomic.Int64
	nonDNS  = regexp.MustCompile(`[^a-z0-9-]+`)
)

// UniqueName names a per-test object after the test: t.Name() made DNS-safe
// and cut to its last max characters (the end is what tells subtests apart),
// then a process-wide sequence number. Namespaces need it because envtest has
// no namespace controller, so they are never deleted; a unique name per call
// keeps tests apart instead. max differs per package because the namespace
// ends up inside controller object names, which have length limits.
func UniqueName(t testing.TB, max int) string {
	base := nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(base) > max {
		base = base[len(base)-max:]
	}
	return strings.Trim(base, "-") + "-" + strconv.FormatInt(nameSeq.Add(1), 10)
}

// NewNamespace creates namespace name on e with labels and annotations
// (either may be nil) and returns name; the test fails when it cannot.
func (e *Env) NewNamespace(t testing.TB, name string, labels, annotations map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// Create creates obj on e, failing the test when the API server (or
// vipgate's admission) refuses it.
func (e *Env) Create(t testing.TB, obj client.Object) {
	t.Helper()
	if err := e.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
}

// CreateAndRemove is Create that also deletes obj at test cleanup and strips
// its finalizers, so an object holding vipgate's cleanup finalizer does not
// linger after the vipgate that would release it has stopped. Call it after
// starting vipgate: cleanups run last-in first-out, so the delete happens
// while that vipgate still runs.
func (e *Env) CreateAndRemove(t testing.TB, obj client.Object) {
	t.Helper()
	e.Create(t, obj)
	t.Cleanup(func() {
		ctx := context.Background()
		_ = e.Client.Delete(ctx, obj)
		_ = e.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
	})
}

// ReleaseServices deletes every LoadBalancer Service on e (and every Service
// holding vipgate's cleanup finalizer) and waits up to 30 s for vipgate to
// release them. Tests call it at cleanup while their vipgate still runs, so
// the next test's vipgate does not find (and reconcile onto its own simulator)
// Services left over from this one. Finalizers still present after the wait
// are stripped, so one broken test does not wedge the rest of the package.
// It reports false, having done nothing, when it cannot list the Services.
func (e *Env) ReleaseServices(t testing.TB) bool {
	ctx := context.Background()
	c := e.Client
	var svcs corev1.ServiceList
	if err := c.List(ctx, &svcs); err != nil {
		t.Logf("cleanup: listing Services: %v", err)
		return false
	}
	var ours []corev1.Service
	for _, s := range svcs.Items {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer || controllerutil.ContainsFinalizer(&s, ownership.CleanupFinalizer) {
			ours = append(ours, s)
			_ = c.Delete(ctx, &s)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range ours {
		for {
			err := c.Get(ctx, client.ObjectKeyFromObject(&s), &corev1.Service{})
			if client.IgnoreNotFound(err) == nil && err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Logf("cleanup: Service %s/%s not released by vipgate; stripping its finalizer", s.Namespace, s.Name)
				_ = c.Patch(ctx, &s, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return true
}

// DeleteNodes deletes every Node on e: envtest has no node lifecycle, so
// Nodes a test created would otherwise feed the next test's routes.
func (e *Env) DeleteNodes() {
	ctx := context.Background()
	var nodes corev1.NodeList
	if e.Client.List(ctx, &nodes) == nil {
		for i := range nodes.Items {
			_ = e.Client.Delete(ctx, &nodes.Items[i])
		}
	}
}
