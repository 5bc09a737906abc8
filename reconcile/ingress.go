package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/rules"
)

// Names vipgate shares with AKO for Ingresses, and the reasons of its Ingress Events.
const (
	// DefaultSecretName is the TLS Secret in vipgate's namespace that
	// secures the hosts of an Ingress annotated AnnEnableTLS: "true", and
	// tls[] entries without a secretName.
	DefaultSecretName = model.DefaultSecretName
	AnnEnableTLS      = model.AnnEnableTLS

	ReasonHostConflict   = "HostConflict"
	ReasonTLSUnavailable = "TLSSecretUnavailable"
	ReasonBackend        = "BackendNotFound"
	ReasonUnsupported    = "Unsupported"

	// PortErrorTLS is the status.loadBalancer.ingress[].ports[].error on port
	// 443 of a host whose certificate cannot be served (Ingress status has no
	// conditions; a port error is the API's per-port condition).
	PortErrorTLS = "TLSSecretUnavailable"
)

// IngressReconciler turns the Ingresses vipgate owns into L7 shards on the
// controller. Its one key is a shard: the parent virtual service a host's
// routes live on. Each reconcile derives everything again from the cluster
// and the controller (loader.go): the plan over every Ingress vipgate owns
// (host ownership is global, so the plan always is), the shard's members,
// their backends and certificates. It applies the shard as one owner, then
// writes the status entries the shard owns, those at its VIPs (status.go):
// members get an entry per served host and VIP, former members lose theirs.
// A shard whose apply fails writes nothing, so no Ingress ever loses a host
// entry because another shard is down or a restart happened; nothing about
// shards, members or VIPs is kept in memory.
//
// Secure hosts whose Secret is missing or unusable (deleted after admission,
// expired, key not matching) are not served over HTTPS: no SNI child and no
// certificate, while the parent keeps redirecting the host's plain HTTP to
// HTTPS, so nothing meant to be encrypted is ever served in clear. The
// Ingress gets a Warning Event naming the Secret and the problem, and its
// status entry for the host carries ports [{port: 443, error: TLSSecretUnavailable}].
//
// Finalizers are IngressFinalizerReconciler's business.
type IngressReconciler struct {
	// FullSync, when set, queues every key at each of its rounds (drift repair).
	FullSync *FullSync
	Client   client.Client
	// APIReader reads full Secrets, to build certificates: the manager's
	// cache keeps no Secret data.
	APIReader client.Reader
	// SecretCache is the manager's cache, whose Secrets carry metadata and the
	// TLS summary only (ownership.TransformSecret): it tells whether a Secret
	// exists and at which version without an API call. Nil falls back to Client.
	SecretCache client.Reader
	Recorder    record.EventRecorder
	Settings    *config.Settings
	Applier     Applier
	Inventory   inventory.Source
	Lookups     rules.Lookups
	// Namespace is vipgate's, where the default TLS Secret lives.
	Namespace string
	// RetryBadRequest is the first wait after the controller refused a request (400).
	RetryBadRequest time.Duration
	// Settle is how long a shard sync waits for Ingress changes to its shard
	// to stop (see ingress_settle.go): 0 is DefaultIngressSettle, negative
	// does not wait.
	Settle time.Duration
	Now    func() time.Time

	init_    sync.Once
	sweep    l7Sweep
	arrivals arrivals
	backoff  *Backoff
	notes    *noteBook
	secrets  *secretStore
	handoff  shardHandoff
}

func (r *IngressReconciler) setup() {
	r.init_.Do(func() {
		r.backoff = &Backoff{Base: r.RetryBadRequest}
		r.notes = newNoteBook()
		r.secrets = &secretStore{}
	})
}

func (r *IngressReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile syncs one shard (req.Name is the parent virtual service).
func (r *IngressReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.setup()
	shard := req.Name
	if wait := r.arrivals.wait(shard, r.now(), r.settle()); wait > 0 {
		// Ingresses of the shard are still arriving: one sync after them
		// writes the shard's objects once.
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	log := logr.FromContextOrDiscard(ctx).WithValues("shard", shard)
	ctx = logr.NewContext(ctx, log)
	// From planning every Ingress to the shard's apply, a sync holds a view
	// of all of them and every object of its shard (tens of MB at 5,000
	// Ingresses); a slot bounds how many syncs do at once.
	ctx, release, err := r.Applier.HoldL7(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer release()
	w, err := r.loadWorld(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	sp := w.plan.Shards[shard]
	if sp == nil {
		return r.removeShard(ctx, shard, w)
	}
	if r.Inventory != nil && r.Inventory.Snapshot() == nil {
		// A VsVip is never built without the controller's view (see ServiceReconciler).
		return ctrl.Result{RequeueAfter: inventoryWait}, nil
	}
	began := time.Now()
	in, degraded, notes, err := r.modelInput(ctx, sp, w)
	if err != nil {
		return ctrl.Result{}, err
	}
	notes = append(notes, r.planNotes(w, shard)...)
	set, err := model.BuildL7(in)
	if err != nil {
		return ctrl.Result{}, err
	}
	if pending, err := r.applyL7Rules(ctx, set, sp); err != nil || pending {
		return ruleGate(pending, err)
	}
	res, err := r.Applier.Apply(ctx, set)
	// The status writes that follow need no slot.
	release()
	if err != nil {
		r.sweep.failed()
		r.notes.report(ctx, shard, notes, r.emit)
		f := controllerFailed(ctx, r.Recorder, r.backoff, shard, fmt.Errorf("virtual service %s: %w", shard, err), r.ingressObjects(w, sp.Ingresses)...)
		return f.Result, f.Err
	}
	r.backoff.Reset(shard)
	vips := addresses(res)
	if len(vips) == 0 {
		f := controllerFailed(ctx, r.Recorder, r.backoff, shard, fmt.Errorf("the controller returned VsVip %s without an address", shard), r.ingressObjects(w, sp.Ingresses)...)
		return f.Result, f.Err
	}
	if res.Writes > 0 {
		log.Info("synced", "vip", vips, "routes", len(sp.Routes), "writes", res.Writes, "created", len(res.Created),
			"updated", res.Updated, "deleted", res.Deleted, "took", time.Since(began).String())
	}
	r.notes.report(ctx, shard, notes, r.emit)
	if err := r.writeShardStatus(ctx, shard, vips, w, degraded); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.sweepIfNeeded(ctx)
}

// removeShard deletes a shard no Ingress routes to any more, then clears the
// status entries at the addresses its VsVip held.
func (r *IngressReconciler) removeShard(ctx context.Context, shard string, w *world) (ctrl.Result, error) {
	// Entries at the shard's addresses go first: once its VsVip is deleted
	// nothing tells which addresses they were, and an attempt that deleted
	// it but failed to write status would leave them for good (and an
	// Ingress showing an address the controller later gives someone else).
	if held := r.shardAddresses(shard); len(held) > 0 {
		if err := r.writeShardStatus(ctx, shard, held, w, nil); err != nil {
			return ctrl.Result{}, err
		}
	}
	res, err := r.Applier.Delete(ctx, apply.Owner{Name: shard, CreatedBy: r.Settings.CreatedBy(), Tenant: r.Settings.ControllerSettings.TenantName, L7: true})
	if err != nil {
		r.sweep.failed()
		logr.FromContextOrDiscard(ctx).Info("removing the empty shard failed", "error", err.Error())
		return ctrl.Result{}, err
	}
	r.notes.forget(shard)
	r.backoff.Reset(shard)
	if res.Writes > 0 {
		logr.FromContextOrDiscard(ctx).Info("shard removed: no Ingress routes to it", "deleted", res.Deleted)
	}
	if err := r.writeShardStatus(ctx, shard, addresses(res), w, nil); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.sweepIfNeeded(ctx)
}

// shardAddresses are the addresses the inventory says the shard's VsVip holds.
func (r *IngressReconciler) shardAddresses(shard string) []string {
	if r.Inventory == nil {
		return nil
	}
	snap := r.Inventory.Snapshot()
	if snap == nil {
		return nil
	}
	tenant := r.Settings.ControllerSettings.TenantName
	var out []string
	for a, h := range snap.InUse {
		if h.VsVip == shard && h.CreatedBy == r.Settings.CreatedBy() && (h.Tenant == tenant || h.Tenant == "") {
			out = append(out, a.String())
		}
	}
	slices.Sort(out)
	return out
}

// ingressObjects returns the cached Ingresses behind "<ns>/<name>" keys, for Events.
func (r *IngressReconciler) ingressObjects(w *world, keys []string) []runtime.Object {
	var out []runtime.Object
	for _, k := range keys {
		if ing := w.ings[k]; ing != nil {
			out = append(out, ing)
		}
	}
	return out
}

// emit records one Warning Event on an Ingress, named "<ns>/<name>".
func (r *IngressReconciler) emit(ctx context.Context, n note) {
	ns, name, _ := strings.Cut(n.Ingress, "/")
	var ing networkingv1.Ingress
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &ing); err != nil {
		return
	}
	logr.FromContextOrDiscard(ctx).Info("ingress not fully served", "ingress", n.Ingress, "reason", n.Reason, "message", n.Message)
	r.Recorder.Event(&ing, corev1.EventTypeWarning, n.Reason, n.Message)
}
