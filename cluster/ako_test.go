package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func TestAKODetector(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	sts := func(replicas int32, running int32) client.Object {
		return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "avi-system", Name: "ako"},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(replicas)}, Status: appsv1.StatefulSetStatus{Replicas: running}}
	}
	lease := func(renewed time.Duration) client.Object {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "avi-system", Name: "ako-lease-lock"},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("ako-0"), LeaseDurationSeconds: ptr.To(int32(15)),
				RenewTime: &metav1.MicroTime{Time: now.Add(-renewed)}}}
	}
	stop := "; stop it first (kubectl -n avi-system scale statefulset ako --replicas=0, or uninstall AKO with AKOSettings.deleteConfig false so its objects stay); vipgate takes its objects over once it has stopped"
	for _, tc := range []struct {
		name string
		objs []client.Object
		fail bool
		want string
	}{
		{"no AKO", nil, false, ""},
		{"StatefulSet with a replica", []client.Object{sts(1, 1)}, false, "AKO is still running for this cluster (StatefulSet avi-system/ako has 1 replicas)" + stop},
		{"scaled to zero, pod still terminating", []client.Object{sts(0, 1)}, false, "AKO is still running for this cluster (StatefulSet avi-system/ako has 1 replicas)" + stop},
		{"scaled to zero, lease still live", []client.Object{sts(0, 0), lease(5 * time.Second)}, false, "AKO is still running for this cluster (ako-0 holds its leader lease avi-system/ako-lease-lock)" + stop},
		{"scaled to zero, lease expired", []client.Object{sts(0, 0), lease(time.Minute)}, false, ""},
		{"uninstalled, lease left behind and expired", []client.Object{lease(time.Hour)}, false, ""},
		{"cannot read", nil, true, "could not tell whether AKO is still running (reading StatefulSet avi-system/ako: forbidden); adoption waits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scheme := runtime.NewScheme()
			_ = clientgoscheme.AddToScheme(scheme)
			b := fake.NewClientBuilder().WithScheme(scheme).WithObjects(tc.objs...)
			if tc.fail {
				b = b.WithInterceptorFuncs(interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
					return errors.New("forbidden")
				}})
			}
			d := &AKODetector{Reader: b.Build(), Namespace: "avi-system", Now: func() time.Time { return now }}
			err := d.Check(context.Background())
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestAKODetectorReusesAnswer(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	gets := 0
	c := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, o client.Object, opts ...client.GetOption) error {
		gets++
		return c.Get(ctx, k, o, opts...)
	}}).Build()
	d := &AKODetector{Reader: c, Namespace: "avi-system", Now: func() time.Time { return now }}
	for range 3 {
		if err := d.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if gets != 2 {
		t.Errorf("%d reads for three checks within the TTL, want 2 (StatefulSet and Lease once)", gets)
	}
	now = now.Add(11 * time.Second)
	_ = d.Check(context.Background())
	if gets != 4 {
		t.Errorf("%d reads after the TTL, want 4", gets)
	}
}
