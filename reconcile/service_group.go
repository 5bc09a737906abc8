package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// groupPrefix marks the work-queue key of a shared-VIP group: the members of
// one group share one virtual service, so one key (one writer) syncs them
// all; a key per member would let two reconciles build the group from
// different views and undo each other's pools. No Service name contains ':'.
const groupPrefix = "sharedvip:"

// groupRequest is the work-queue key of the shared-VIP group key in namespace.
func groupRequest(namespace, key string) ctrl.Request {
	return ctrl.Request{NamespacedName: types.NamespacedName{Namespace: namespace, Name: groupPrefix + key}}
}

// sharedVIPKey returns the group of a group key.
func sharedVIPKey(req ctrl.Request) (string, bool) {
	return strings.CutPrefix(req.Name, groupPrefix)
}

// serviceRequest is the work-queue key that syncs svc: its shared-VIP
// group's, or its own.
func serviceRequest(svc *corev1.Service) ctrl.Request {
	if key := svc.Annotations[rules.AnnSharedVIP]; key != "" {
		return groupRequest(svc.Namespace, key)
	}
	return ctrl.Request{NamespacedName: client.ObjectKeyFromObject(svc)}
}

// reconcileGroup syncs a shared-VIP group from its members as the cache has
// them: the live members vipgate owns get finalizer, pools and status; the
// members leaving (deleted, no longer vipgate's) are released once the
// group no longer serves them; a group without live members is deleted.
func (r *ServiceReconciler) reconcileGroup(ctx context.Context, namespace, key string) (ctrl.Result, error) {
	log := logr.FromContextOrDiscard(ctx).WithValues("sharedVIP", key)
	ctx = logr.NewContext(ctx, log)
	group, err := r.Lookups.ServicesBySharedVIPKey(ctx, namespace, key)
	if err != nil {
		return ctrl.Result{}, err
	}
	ns, err := cluster.Namespace(ctx, r.Client, namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	var live, leaving []*corev1.Service
	for _, m := range group {
		m = m.DeepCopy()
		if m.DeletionTimestamp == nil && ownership.OwnsService(m, r.Settings) && ownership.NamespaceSelected(ns, r.Settings) {
			live = append(live, m)
		} else if controllerutil.ContainsFinalizer(m, ownership.CleanupFinalizer) || len(m.Status.LoadBalancer.Ingress) > 0 {
			leaving = append(leaving, m)
		}
	}
	slices.SortFunc(live, func(a, b *corev1.Service) int { return strings.Compare(a.Name, b.Name) })
	tenant := ownership.TenantFor(ns, r.Settings)
	if len(live) == 0 {
		return r.deleteGroup(ctx, namespace, key, tenant, leaving)
	}
	for _, m := range live {
		if err := r.ensureFinalizer(ctx, m); err != nil {
			return ctrl.Result{}, err
		}
	}
	res, err := r.syncGroup(ctx, namespace, key, ns, live)
	if errors.Is(err, errNoValidMember) {
		if len(leaving) == 0 {
			return ctrl.Result{}, nil
		}
		if slices.ContainsFunc(live, func(m *corev1.Service) bool { return len(m.Status.LoadBalancer.Ingress) > 0 }) {
			// A member served on the group's VIP is refused now: the group
			// stays as the controller has it, and the members leaving wait,
			// since their pools can go only with a new model of the group.
			logr.FromContextOrDiscard(ctx).Info("members leaving wait: the group cannot be synced while the rule book refuses its members")
			return ctrl.Result{RequeueAfter: groupWait}, nil
		}
		// No member the rule book accepts, none served: the group's objects
		// served only the members leaving, and go with them (released
		// otherwise, their pools would stay on the group's virtual service).
		return r.deleteGroup(ctx, namespace, key, tenant, leaving)
	}
	if err != nil || res.RequeueAfter > 0 {
		return res, err
	}
	return res, r.releaseAll(ctx, leaving, ns)
}

// errNoValidMember says syncGroup pushed nothing: the rule book (or a VIP
// move) refused every live member.
var errNoValidMember = errors.New("no member of the shared-VIP group can be synced")

// groupWait is how long members leaving a group whose members are all
// refused wait before the group is tried again.
const groupWait = 30 * time.Second

// syncGroup checks every live member with the rule book, pushes the group's
// model and writes the VIPs to each member's status. A member the rule book
// refuses is left out (its condition says why); the others keep serving.
func (r *ServiceReconciler) syncGroup(ctx context.Context, namespace, key string, ns *corev1.Namespace, live []*corev1.Service) (ctrl.Result, error) {
	env := r.env(ctx)
	if r.Inventory != nil && env.Inventory == nil {
		return ctrl.Result{RequeueAfter: inventoryWait}, nil
	}
	var members []*corev1.Service
	for _, m := range live {
		if res := rules.ValidateService(m, established(m), env); !res.Allowed() {
			if err := r.invalid(ctx, m, res.Err().Error()); err != nil {
				return ctrl.Result{}, err
			}
			continue
		}
		members = append(members, m)
	}
	members, err := r.refuseVIPMoves(ctx, key, members)
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(members) == 0 {
		return ctrl.Result{}, errNoValidMember
	}
	in, err := r.modelInput(ctx, members[0], ns, env.Inventory)
	if err != nil {
		return ctrl.Result{}, err
	}
	in.Members = slices.DeleteFunc(in.Members, func(m model.Member) bool {
		return !slices.ContainsFunc(members, func(x *corev1.Service) bool { return x.UID == m.Service.UID })
	})
	set, err := model.BuildL4(in)
	if err != nil {
		for _, m := range members {
			if ierr := r.invalid(ctx, m, err.Error()); ierr != nil {
				return ctrl.Result{}, ierr
			}
		}
		return ctrl.Result{}, nil
	}
	set.Tenant = ownership.TenantFor(ns, r.Settings)
	if pending, err := r.applyL4Rule(ctx, set, in.Members); err != nil || pending {
		return ruleGate(pending, err)
	}
	recent := r.recentlyServed(groupRequest(namespace, key), members, "")
	if stale := staleGroupVIP(env.Inventory, r.Settings.CreatedBy(), set, members); len(stale) > 0 && len(recent) == 0 {
		// The controller refuses to change a VIP's address: a VsVip left
		// at an address no member is served on (its members left) is
		// replaced by one at the address a member now requests.
		if _, err := r.Applier.Delete(ctx, apply.OwnerOf(set)); err != nil {
			return r.groupFailed(ctx, namespace, key, members, err)
		}
		logr.FromContextOrDiscard(ctx).Info("replacing the group's VsVip: no member is served on its address and a member requests another",
			"was", stale)
	}
	res, err := r.Applier.Apply(ctx, set)
	var addrs []string
	if err == nil {
		if addrs = addresses(res); len(addrs) == 0 {
			err = fmt.Errorf("the controller returned VsVip %s without an address", set.Owner)
		}
	}
	if err != nil {
		return r.groupFailed(ctx, namespace, key, members, err)
	}
	r.backoffFor().Reset(groupRequest(namespace, key).String())
	r.setLastServed(groupRequest(namespace, key), addrs, members)
	for _, m := range members {
		if err := r.writeStatus(ctx, m, addrs, model.FQDNs(r.Settings, in.Snapshot, m)); err != nil {
			return ctrl.Result{}, err
		}
	}
	// The old tenant's VsVip goes only once status shows the new addresses
	// (as for one Service).
	if err := r.leaveOldTenants(ctx, groupRequest(namespace, key), apply.OwnerOf(set), env.Inventory); err != nil {
		return r.groupFailed(ctx, namespace, key, members, err)
	}
	if res.Writes > 0 {
		logr.FromContextOrDiscard(ctx).Info("synced", "virtualservice", set.Owner, "members", len(members), "vip", addrs,
			"created", res.Created, "updated", res.Updated, "deleted", res.Deleted)
	}
	return ctrl.Result{}, nil
}

// groupFailed reports a controller error on every member.
func (r *ServiceReconciler) groupFailed(ctx context.Context, namespace, key string, members []*corev1.Service, err error) (ctrl.Result, error) {
	objs := make([]runtime.Object, len(members))
	for i, m := range members {
		objs[i] = m
	}
	f := controllerFailed(ctx, r.Recorder, r.backoffFor(), groupRequest(namespace, key).String(), err, objs...)
	for _, m := range members {
		if cerr := r.setCondition(ctx, m, metav1.ConditionFalse, f.Reason, f.Message); cerr != nil && f.Err == nil {
			return ctrl.Result{}, cerr
		}
	}
	return f.Result, f.Err
}

// deleteGroup removes a group without live members, then releases the
// members that left it.
func (r *ServiceReconciler) deleteGroup(ctx context.Context, namespace, key, tenant string, leaving []*corev1.Service) (ctrl.Result, error) {
	cl := r.Settings.AKOSettings.ClusterName
	owner := apply.Owner{Name: model.BaseName(cl, namespace, key), CreatedBy: r.Settings.CreatedBy(),
		OwnedBy: ownership.SharedVIPOwner(namespace, key), ClusterID: r.Settings.ClusterID, Tenant: tenant, Namespace: namespace}
	for _, m := range leaving {
		owner.PoolBases = append(owner.PoolBases, rules.PoolBaseName(cl, namespace, m.Name, key))
	}
	_, err := r.Applier.Delete(ctx, owner)
	if err == nil {
		err = r.leaveOldTenants(ctx, groupRequest(namespace, key), owner, r.snapshot())
	}
	if err != nil {
		if len(leaving) == 0 {
			return ctrl.Result{}, err
		}
		return r.groupFailed(ctx, namespace, key, leaving, err)
	}
	r.backoffFor().Reset(groupRequest(namespace, key).String())
	r.setLastServed(groupRequest(namespace, key), nil, nil)
	ns, err := cluster.Namespace(ctx, r.Client, namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.releaseAll(ctx, leaving, ns)
}

// releaseAll lets go of members no group serves any more: status cleared,
// finalizer removed.
func (r *ServiceReconciler) releaseAll(ctx context.Context, leaving []*corev1.Service, ns *corev1.Namespace) error {
	for _, m := range leaving {
		// What it held before it joined the group goes too: the member's
		// own key (leaveStandalone) may still be retrying that delete, and
		// once the finalizer is off nothing would.
		if _, err := r.deleteStandalone(ctx, m, ownership.TenantFor(ns, r.Settings)); err != nil {
			return err
		}
		if err := r.clearStatus(ctx, m); err != nil {
			return err
		}
		if err := r.removeFinalizer(ctx, m); err != nil {
			return err
		}
		logr.FromContextOrDiscard(ctx).Info("released from its shared-VIP group", "service", m.Name, "deleted", m.DeletionTimestamp != nil)
	}
	return nil
}

// refuseVIPMoves leaves out the members that request a VIP other than the
// one the rest of the group is served on (their status): the controller
// cannot change a VIP's address, and moving it would take the address the
// others serve on away from them. Such a member (one created while the group
// got its VIP, or that requested an address and then joined) gets an Invalid
// condition and no status; the others keep being synced. The rule book
// allows it, since a member may be alone in requesting the group's address.
func (r *ServiceReconciler) refuseVIPMoves(ctx context.Context, key string, members []*corev1.Service) ([]*corev1.Service, error) {
	var kept []*corev1.Service
	for _, m := range members {
		ip, _ := rules.RequestedIP(m)
		var served []string
		add := func(a string) {
			if !slices.Contains(served, a) {
				served = append(served, a)
			}
		}
		for _, o := range members {
			if o != m {
				for _, in := range o.Status.LoadBalancer.Ingress {
					add(in.IP)
				}
			}
		}
		// The cache may not show yet the status this reconciler wrote at
		// the group's last sync.
		for _, a := range r.recentlyServed(groupRequest(m.Namespace, key), members, m.Name) {
			add(a)
		}
		if ip == "" || len(served) == 0 || slices.ContainsFunc(served, func(a string) bool { return sameAddr(a, ip) }) {
			kept = append(kept, m)
			continue
		}
		slices.Sort(served)
		msg := fmt.Sprintf("requests VIP %s, but the Services sharing VIP key %q are served on %s; a Service joining a shared-VIP group cannot move its VIP: request that address, or none",
			ip, key, strings.Join(served, ", "))
		if err := r.clearStatus(ctx, m); err != nil {
			return nil, err
		}
		if err := r.invalid(ctx, m, msg); err != nil {
			return nil, err
		}
	}
	return kept, nil
}

// staleGroupVIP returns the addresses of the group's VsVip (from the
// inventory) when a member requests another address and no member is served
// on them; nil otherwise.
func staleGroupVIP(snap *inventory.Snapshot, createdBy string, set *model.Set, members []*corev1.Service) []string {
	if snap == nil {
		return nil
	}
	req := ""
	for _, m := range members {
		if ip, _ := rules.RequestedIP(m); ip != "" {
			req = ip
		}
		if len(m.Status.LoadBalancer.Ingress) > 0 {
			return nil
		}
	}
	if req == "" {
		return nil
	}
	var held []string
	for a, h := range snap.InUse {
		if h.VsVip == set.Owner && h.CreatedBy == createdBy && (h.Tenant == set.Tenant || h.Tenant == "") {
			if sameAddr(a.String(), req) {
				return nil
			}
			held = append(held, a.String())
		}
	}
	slices.Sort(held)
	return held
}

// sameAddr compares two addresses by value when both parse.
func sameAddr(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return x == y
}

// served is what a group's last successful sync gave: its addresses and the
// members served on them.
type served struct {
	addrs, members []string
}

// setLastServed remembers (or, with no addresses, forgets) a group's last sync.
func (r *ServiceReconciler) setLastServed(req ctrl.Request, addrs []string, members []*corev1.Service) {
	r.movesMu.Lock()
	defer r.movesMu.Unlock()
	if len(addrs) == 0 {
		delete(r.groupServed, req.String())
		return
	}
	if r.groupServed == nil {
		r.groupServed = map[string]served{}
	}
	sv := served{addrs: slices.Clone(addrs)}
	for _, m := range members {
		sv.members = append(sv.members, m.Name)
	}
	r.groupServed[req.String()] = sv
}

// recentlyServed returns the addresses of the group's last sync by this
// process when a member served then (other than except) is still one of
// members; nil otherwise.
func (r *ServiceReconciler) recentlyServed(req ctrl.Request, members []*corev1.Service, except string) []string {
	r.movesMu.Lock()
	sv, ok := r.groupServed[req.String()]
	r.movesMu.Unlock()
	if !ok {
		return nil
	}
	for _, m := range members {
		if m.Name != except && slices.Contains(sv.members, m.Name) {
			return sv.addrs
		}
	}
	return nil
}
