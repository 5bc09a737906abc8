package reconcile

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/cluster"
)

// statusParallel bounds concurrent Ingress status patches of one shard sync.
const statusParallel = 16

// writeShardStatus writes the status entries a shard owns: those at its VIPs.
// Each member Ingress gets an entry per host it is served on here and per
// VIP (with a port error on hosts whose certificate cannot be served), and
// loses entries of the same hosts at other addresses (the host moved here);
// every other Ingress holding an entry at one of the shard's VIPs loses it.
// Entries at other addresses are other shards' (or another controller's)
// and are left as they are, so a shard that cannot sync never costs an
// Ingress a host.
func (r *IngressReconciler) writeShardStatus(ctx context.Context, shard string, vips []string, w *world, degraded map[string]string) error {
	members := membersOf(w, shard)
	keys := map[string]bool{}
	for k := range members {
		keys[k] = true
	}
	for _, ip := range vips {
		var list networkingv1.IngressList
		if err := r.Client.List(ctx, &list, client.MatchingFields{cluster.IndexIngressStatusIP: ip}); err != nil {
			return err
		}
		for _, ing := range list.Items {
			keys[ing.Namespace+"/"+ing.Name] = true
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, statusParallel)
	)
	for k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := r.patchIngressStatus(ctx, k, vips, members[k], degraded); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// patchIngressStatus replaces the entries of one Ingress at the shard's
// VIPs. Shards write one Ingress's status concurrently, each its own
// entries, so the patch carries the resourceVersion it was computed from; on
// a conflict it reads the Ingress from the API server (the cache may still
// be behind) and tries again.
func (r *IngressReconciler) patchIngressStatus(ctx context.Context, key string, vips, hosts []string, degraded map[string]string) error {
	ns, name, _ := strings.Cut(key, "/")
	nn := types.NamespacedName{Namespace: ns, Name: name}
	var reader client.Reader = r.Client
	for attempt := 1; ; attempt++ {
		var ing networkingv1.Ingress
		if err := reader.Get(ctx, nn, &ing); err != nil {
			return client.IgnoreNotFound(err)
		}
		want := shardEntries(ing.Status.LoadBalancer.Ingress, vips, hosts, degraded)
		if lbEqual(ing.Status.LoadBalancer.Ingress, want) {
			return nil
		}
		patch := lockedPatch(&ing)
		from, to := vipMove(ing.Status.LoadBalancer.Ingress, want)
		ing.Status.LoadBalancer.Ingress = want
		err := r.Client.Status().Patch(ctx, &ing, patch)
		switch {
		case err == nil:
			if to != "" {
				r.Recorder.Eventf(&ing, corev1.EventTypeNormal, ReasonSynced, "served on VIP %s (was %s)", to, from)
			}
			return nil
		case apierrors.IsConflict(err) && attempt < 5 && r.APIReader != nil:
			reader = r.APIReader
		default:
			return client.IgnoreNotFound(err)
		}
	}
}

// vipMove returns an address the status had and loses and one it gains
// (both "" when none): the Ingress moved from one VIP to another, which is
// news beyond the status itself. A first status records no Event, as for a
// Service (syncedEventNeeded): in a burst of creates each such Event was a
// write to the API server and etcd for what status.loadBalancer already
// says. Neither is a shard adding its entries to another shard's.
func vipMove(had, want []networkingv1.IngressLoadBalancerIngress) (from, to string) {
	has := func(l []networkingv1.IngressLoadBalancerIngress, ip string) bool {
		return slices.ContainsFunc(l, func(e networkingv1.IngressLoadBalancerIngress) bool { return e.IP == ip })
	}
	for _, e := range had {
		if e.IP != "" && !has(want, e.IP) {
			from = e.IP
			break
		}
	}
	for _, e := range want {
		if e.IP != "" && !has(had, e.IP) {
			to = e.IP
			break
		}
	}
	if from == "" || to == "" {
		return "", ""
	}
	return from, to
}

// shardEntries is cur with the entries at vips replaced by one per host and
// VIP, and the hosts' entries at other addresses dropped; sorted by host, then address.
func shardEntries(cur []networkingv1.IngressLoadBalancerIngress, vips, hosts []string, degraded map[string]string) []networkingv1.IngressLoadBalancerIngress {
	var out []networkingv1.IngressLoadBalancerIngress
	for _, e := range cur {
		if !slices.Contains(vips, e.IP) && !slices.Contains(hosts, e.Hostname) {
			out = append(out, e)
		}
	}
	for _, h := range hosts {
		for _, ip := range vips {
			e := networkingv1.IngressLoadBalancerIngress{IP: ip, Hostname: h}
			if _, bad := degraded[h]; bad {
				e.Ports = []networkingv1.IngressPortStatus{{Port: 443, Protocol: corev1.ProtocolTCP, Error: ptrTo(PortErrorTLS)}}
			}
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b networkingv1.IngressLoadBalancerIngress) int {
		return cmp.Or(strings.Compare(a.Hostname, b.Hostname), strings.Compare(a.IP, b.IP))
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

func lbEqual(a, b []networkingv1.IngressLoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y networkingv1.IngressLoadBalancerIngress) bool {
		return x.IP == y.IP && x.Hostname == y.Hostname && slices.EqualFunc(x.Ports, y.Ports, func(p, q networkingv1.IngressPortStatus) bool {
			return p.Port == q.Port && p.Protocol == q.Protocol && ptrVal(p.Error) == ptrVal(q.Error)
		})
	})
}

func ptrVal(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
