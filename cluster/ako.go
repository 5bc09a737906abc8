package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// AKO's own names: the StatefulSet its chart installs and its leader lease.
const (
	AKOStatefulSet = "ako"
	AKOLease       = "ako-lease-lock"
)

// AKODetector tells whether an AKO instance is still running for the
// cluster: vipgate adopts AKO's controller objects only once it has
// stopped, or both would write them. A check that cannot be made counts as
// "running": adoption waits rather than act on an answer it did not get.
type AKODetector struct {
	// Reader reads without a cache (the manager's API reader): two objects
	// by name, not a watch on every StatefulSet and Lease.
	Reader    client.Reader
	Namespace string
	// TTL is how long an answer is reused (10 s when zero).
	TTL time.Duration
	Now func() time.Time

	mu      sync.Mutex
	checked time.Time
	last    error
}

// Check returns nil when no AKO runs, else why adoption must wait.
func (d *AKODetector) Check(ctx context.Context) error {
	now := d.now()
	ttl := d.TTL
	if ttl == 0 {
		ttl = 10 * time.Second
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.checked.IsZero() && now.Sub(d.checked) < ttl {
		return d.last
	}
	d.last, d.checked = d.check(ctx, now), now
	return d.last
}

func (d *AKODetector) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *AKODetector) check(ctx context.Context, now time.Time) error {
	stop := fmt.Sprintf("stop it first (kubectl -n %s scale statefulset %s --replicas=0, or uninstall AKO with AKOSettings.deleteConfig false so its objects stay); vipgate takes its objects over once it has stopped",
		d.Namespace, AKOStatefulSet)
	var sts appsv1.StatefulSet
	err := d.Reader.Get(ctx, types.NamespacedName{Namespace: d.Namespace, Name: AKOStatefulSet}, &sts)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("could not tell whether AKO is still running (reading StatefulSet %s/%s: %v); adoption waits", d.Namespace, AKOStatefulSet, err)
	case sts.Spec.Replicas == nil || *sts.Spec.Replicas > 0 || sts.Status.Replicas > 0:
		return fmt.Errorf("AKO is still running for this cluster (StatefulSet %s/%s has %d replicas); %s", d.Namespace, AKOStatefulSet, sts.Status.Replicas, stop)
	}
	var lease coordinationv1.Lease
	err = d.Reader.Get(ctx, types.NamespacedName{Namespace: d.Namespace, Name: AKOLease}, &lease)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("could not tell whether AKO is still running (reading Lease %s/%s: %v); adoption waits", d.Namespace, AKOLease, err)
	}
	if holder, live := leaseLive(&lease, now); live {
		return fmt.Errorf("AKO is still running for this cluster (%s holds its leader lease %s/%s); %s", holder, d.Namespace, AKOLease, stop)
	}
	return nil
}

// leaseLive reports whether a lease is held and was renewed within its duration.
func leaseLive(l *coordinationv1.Lease, now time.Time) (string, bool) {
	s := l.Spec
	if s.HolderIdentity == nil || *s.HolderIdentity == "" || s.RenewTime == nil {
		return "", false
	}
	d := 15 * time.Second
	if s.LeaseDurationSeconds != nil {
		d = time.Duration(*s.LeaseDurationSeconds) * time.Second
	}
	return *s.HolderIdentity, now.Before(s.RenewTime.Add(d))
}
