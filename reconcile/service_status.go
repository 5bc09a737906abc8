package reconcile

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// setCondition sets the AviSynced condition with one status patch, only
// when it changes. The patch carries the resourceVersion the sync read (a
// merge patch replaces the whole conditions list): a verdict on an old read
// never overwrites a newer status or another writer's condition; the
// conflict brings a new reconcile instead.
func (r *ServiceReconciler) setCondition(ctx context.Context, svc *corev1.Service, status metav1.ConditionStatus, reason, msg string) error {
	patch := lockedPatch(svc)
	if !meta.SetStatusCondition(&svc.Status.Conditions, metav1.Condition{
		Type: ConditionSynced, Status: status, Reason: reason, Message: msg, ObservedGeneration: svc.Generation,
	}) {
		return nil
	}
	return client.IgnoreNotFound(r.Client.Status().Patch(ctx, svc, patch))
}

// writeStatus sets the VIPs (read from the controller's VsVip) and the Synced
// condition, with one status patch and only when something changed.
//
// The Normal Synced Event goes out only on a transition a user needs to
// hear about (syncedEventNeeded): a Service's first success is already told
// by its VIP and its condition, and an Event per new Service was a third of
// the API server's extra work in a create burst (an Event create, its
// storage and its watch).
func (r *ServiceReconciler) writeStatus(ctx context.Context, svc *corev1.Service, addrs []string, fqdns []string) error {
	var want []corev1.LoadBalancerIngress
	for i, a := range addrs {
		in := corev1.LoadBalancerIngress{IP: a, IPMode: ptrTo(corev1.LoadBalancerIPModeVIP)}
		if i < len(fqdns) {
			in.Hostname = fqdns[i]
		}
		want = append(want, in)
	}
	// The patch carries the resourceVersion the sync read: a Service changed
	// since (joined a shared-VIP group, left vipgate) gets a conflict and a
	// new reconcile instead of a VIP its current keys may already have released.
	patch := lockedPatch(svc)
	event := syncedEventNeeded(svc, want)
	changed := !ingressEqual(svc.Status.LoadBalancer.Ingress, want)
	svc.Status.LoadBalancer.Ingress = want
	if meta.SetStatusCondition(&svc.Status.Conditions, metav1.Condition{
		Type: ConditionSynced, Status: metav1.ConditionTrue, Reason: ReasonSynced,
		Message: "virtual service is on the controller", ObservedGeneration: svc.Generation,
	}) {
		changed = true
	}
	if !changed {
		return nil
	}
	if err := r.Client.Status().Patch(ctx, svc, patch); err != nil {
		return client.IgnoreNotFound(err)
	}
	if event {
		r.Recorder.Eventf(svc, corev1.EventTypeNormal, ReasonSynced, "VIP %s on the controller", want[0].IP)
	}
	return nil
}

// syncedEventNeeded says whether a successful sync that writes want is news
// beyond the status itself: a recovery (the condition said False: the
// Warning Events of the failure are followed by the all-clear) or a VIP that
// changed from one address to another. A first success, or a repeat of the
// same status, records none.
func syncedEventNeeded(svc *corev1.Service, want []corev1.LoadBalancerIngress) bool {
	if c := meta.FindStatusCondition(svc.Status.Conditions, ConditionSynced); c != nil && c.Status != metav1.ConditionTrue {
		return true
	}
	had := svc.Status.LoadBalancer.Ingress
	return len(had) > 0 && !ingressEqual(had, want)
}

func ingressEqual(a, b []corev1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.LoadBalancerIngress) bool {
		return x.IP == y.IP && x.Hostname == y.Hostname
	})
}

func ptrTo[T any](v T) *T { return &v }
