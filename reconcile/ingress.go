package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/rules"
	"github.com/vipgate/vipgate/webhooks"
)

// Names vipgate shares with AKO for Ingresses, and the reasons of its Ingress Events.
const (
	// DefaultSecretName is the TLS Secret in vipgate's namespace that serves
	// tls[] entries without a secretName, when annotated AnnEnableTLS: "true".
	DefaultSecretName = "router-certs-default"
	AnnEnableTLS      = "ako.vmware.com/enable-tls"

	// IndexIngressSecret and IndexIngressBackend index Ingresses by
	// "<ns>/<secret>" of their tls[] entries and "<ns>/<service>" of their backends.
	IndexIngressSecret  = "vipgate.ingress.secret"
	IndexIngressBackend = "vipgate.ingress.backend"

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
// controller. Work is keyed two ways:
//
//   - a shard key (no namespace, name = parent virtual service) recomputes the
//     whole shard from every Ingress vipgate owns (host ownership is global, so
//     the plan always is) and applies it as one owner; then it writes the
//     status of the shard's Ingresses;
//   - an Ingress key (namespace/name) only adds the cleanup finalizer, or, for
//     an Ingress being deleted or no longer vipgate's, re-applies every shard
//     it was on without it and then lets it go.
//
// Secure hosts whose Secret is missing or unusable (deleted after admission,
// expired, key not matching) are not served over HTTPS: no SNI child and no
// certificate, while the parent keeps redirecting the host's plain HTTP to
// HTTPS, so nothing meant to be encrypted is ever served in clear. The
// Ingress gets a Warning Event naming the Secret and the problem, and its
// status entry for the host carries ports [{port: 443, error: TLSSecretUnavailable}].
type IngressReconciler struct {
	Client client.Client
	// APIReader reads full Secrets, to build certificates: the manager's
	// cache keeps no Secret data.
	APIReader client.Reader
	// SecretCache is the manager's cache, whose Secrets carry metadata and the
	// TLS summary only (webhooks.TransformSecret): it tells whether a Secret
	// exists and at which version without an API call. Nil falls back to Client.
	SecretCache client.Reader
	Recorder    record.EventRecorder
	Settings    *config.Settings
	Applier     Applier
	Inventory   webhooks.InventorySource
	Lookups     rules.Lookups
	// Namespace is vipgate's, where the default TLS Secret lives.
	Namespace string
	// RetryBadRequest is how long to wait after the controller refused a request (400).
	RetryBadRequest time.Duration
	Name            string
	Now             func() time.Time

	mu       sync.Mutex
	vips     map[string][]netip.Addr    // shard → its VIPs, as last applied
	seen     map[string]map[string]bool // ingress key → shards it has had routes on
	known    map[string]bool            // shards applied with routes since start
	degraded map[string]string          // host → why its certificate is not served
	noted    map[string]string          // ingress key + reason → last Event message
	secrets  map[string]memoSecret      // "<ns>/<name>" → Secret at its resourceVersion
	locks    sync.Map                   // shard or ingress key → *sync.Mutex
}

func (r *IngressReconciler) init() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.vips == nil {
		r.vips, r.seen, r.known = map[string][]netip.Addr{}, map[string]map[string]bool{}, map[string]bool{}
		r.degraded, r.noted, r.secrets = map[string]string{}, map[string]string{}, map[string]memoSecret{}
	}
}

func (r *IngressReconciler) lock(key string) func() {
	m, _ := r.locks.LoadOrStore(key, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func (r *IngressReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile handles a shard key (empty namespace) or an Ingress key.
func (r *IngressReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.init()
	if req.Namespace == "" {
		w, err := r.world(ctx)
		if err != nil {
			return ctrl.Result{}, err
		}
		return r.syncShard(ctx, req.Name, w)
	}
	return r.reconcileIngress(ctx, req.NamespacedName)
}

// world is one consistent view of every Ingress vipgate owns and the plan over them.
type world struct {
	plan    *model.L7Plan
	ings    map[string]*networkingv1.Ingress
	classes []networkingv1.IngressClass
	// invalid maps an Ingress the rule book rejects (or whose AviInfraSetting
	// is missing) to the reason; it is served nowhere.
	invalid map[string]string
}

func (r *IngressReconciler) classes(ctx context.Context) ([]networkingv1.IngressClass, error) {
	var list networkingv1.IngressClassList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// classFor is the IngressClass through which vipgate owns ing, or nil when it
// does not: no class of ours, or a namespace that namespaceSelector or
// blockedNamespaceList leaves out.
func (r *IngressReconciler) classFor(ing *networkingv1.Ingress, classes []networkingv1.IngressClass) *networkingv1.IngressClass {
	if !r.namespaceSelected(ing.Namespace) {
		return nil
	}
	return webhooks.IngressClassFor(ing, classes, bool(r.Settings.L7Settings.DefaultIngController))
}

// namespaceSelected applies the same rule as for Services, reading the
// Namespace from the cache; one not cached yet is judged by its name alone.
func (r *IngressReconciler) namespaceSelected(name string) bool {
	a := r.Settings.AKOSettings
	if a.NamespaceSelector.LabelKey == "" && len(a.BlockedNamespaceList) == 0 {
		return true
	}
	ns := corev1.Namespace{}
	if err := r.Client.Get(context.Background(), types.NamespacedName{Name: name}, &ns); err != nil {
		ns = corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	return rules.NamespaceSelected(&ns, r.Settings)
}

// infraFor returns the AviInfraSetting the class names; ok is false when it names one that does not exist.
func (r *IngressReconciler) infraFor(ctx context.Context, c *networkingv1.IngressClass, cache map[string]*v1beta1.AviInfraSetting) (*v1beta1.AviInfraSetting, bool) {
	name := webhooks.InfraSettingOfClass(c)
	if name == "" {
		return nil, true
	}
	if ais, ok := cache[name]; ok {
		return ais, ais != nil
	}
	var ais v1beta1.AviInfraSetting
	if err := r.Client.Get(ctx, types.NamespacedName{Name: name}, &ais); err != nil {
		cache[name] = nil
		return nil, false
	}
	cache[name] = &ais
	return &ais, true
}

// world lists every Ingress vipgate owns (from the cache, without copies:
// they are only read) and plans them.
func (r *IngressReconciler) world(ctx context.Context) (*world, error) {
	var list networkingv1.IngressList
	if err := r.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	classes, err := r.classes(ctx)
	if err != nil {
		return nil, err
	}
	w := &world{ings: map[string]*networkingv1.Ingress{}, classes: classes, invalid: map[string]string{}}
	infras := map[string]*v1beta1.AviInfraSetting{}
	env := r.env()
	var l7 []model.L7Ingress
	for i := range list.Items {
		ing := &list.Items[i]
		if ing.DeletionTimestamp != nil {
			continue
		}
		c := r.classFor(ing, classes)
		if c == nil {
			continue
		}
		key := ing.Namespace + "/" + ing.Name
		w.ings[key] = ing
		infra, ok := r.infraFor(ctx, c, infras)
		if !ok {
			w.invalid[key] = fmt.Sprintf("IngressClass %s names AviInfraSetting %q, which does not exist; create it or fix spec.parameters", c.Name, webhooks.InfraSettingOfClass(c))
			continue
		}
		// The rule book's static checks (host names). TLS Secrets are checked per
		// host when the shard is built, so a bad Secret only costs that host HTTPS.
		probe := &networkingv1.Ingress{ObjectMeta: ing.ObjectMeta, Spec: networkingv1.IngressSpec{Rules: ing.Spec.Rules}}
		for _, t := range ing.Spec.TLS {
			probe.Spec.TLS = append(probe.Spec.TLS, networkingv1.IngressTLS{Hosts: t.Hosts})
		}
		if res := rules.ValidateIngress(probe, probe, env); !res.Allowed() {
			w.invalid[key] = res.Err().Error()
			continue
		}
		l7 = append(l7, model.L7Ingress{Ingress: ing, Infra: infra})
	}
	w.plan = model.PlanL7(r.Settings, l7)
	return w, nil
}

func (r *IngressReconciler) env() rules.Env {
	env := rules.Env{Settings: r.Settings, Lookups: &secretMemo{Lookups: r.Lookups, r: r}, Now: r.now()}
	if r.Inventory != nil {
		env.Inventory = r.Inventory.Snapshot()
	}
	env.InventoryStale = env.Inventory == nil
	return env
}

// secretMemo gives the rule book the summary of Secrets kept per
// resourceVersion, so a shard with many secure hosts reads and parses each
// Secret's content from the API server once per change, not once per sync.
// The cache tells the version.
type secretMemo struct {
	rules.Lookups
	r *IngressReconciler
}

// memoSecret is a full Secret (for its certificate and key) with its summary.
type memoSecret struct {
	sec *corev1.Secret
	sum rules.TLSSecretSummary
}

// TLSSecret summarizes the Secret the certificate would be built from, so the
// rule book judges exactly what is uploaded.
func (m *secretMemo) TLSSecret(namespace, name string) (rules.TLSSecretSummary, bool) {
	ms, ok := m.r.memoSecret(context.Background(), namespace, name)
	return ms.sum, ok
}

func (r *IngressReconciler) secret(ctx context.Context, namespace, name string) (*corev1.Secret, bool) {
	ms, ok := r.memoSecret(ctx, namespace, name)
	return ms.sec, ok
}

func (r *IngressReconciler) memoSecret(ctx context.Context, namespace, name string) (memoSecret, bool) {
	cached := r.SecretCache
	if cached == nil {
		cached = r.Client
	}
	var meta corev1.Secret // from the cache: metadata and summary, no data
	key := types.NamespacedName{Namespace: namespace, Name: name}
	if err := cached.Get(ctx, key, &meta); err != nil {
		if apierrors.IsNotFound(err) {
			// Forget the key material of a deleted Secret.
			r.mu.Lock()
			delete(r.secrets, key.String())
			r.mu.Unlock()
		}
		return memoSecret{}, false
	}
	r.mu.Lock()
	ms, ok := r.secrets[key.String()]
	r.mu.Unlock()
	if ok && ms.sec.ResourceVersion == meta.ResourceVersion {
		return ms, true
	}
	var sec corev1.Secret
	if err := r.APIReader.Get(ctx, key, &sec); err != nil {
		return memoSecret{}, false
	}
	ms = memoSecret{sec: &sec, sum: rules.SummarizeTLSSecret(&sec)}
	r.mu.Lock()
	r.secrets[key.String()] = ms
	r.mu.Unlock()
	return ms, true
}

// loadCert returns the PEM certificate and key for a secure host, or why it cannot be served.
func (r *IngressReconciler) loadCert(ctx context.Context, t model.TLSHost, env rules.Env) (*model.Cert, string) {
	ns, name := t.Namespace, t.SecretName
	if name == "" {
		ns, name = r.Namespace, DefaultSecretName
		sec, ok := r.secret(ctx, ns, name)
		if !ok || sec.Annotations[AnnEnableTLS] != "true" {
			return nil, fmt.Sprintf("host %s is listed in tls[] without a secretName and there is no default certificate (Secret %s/%s annotated %s: \"true\"); HTTPS is not served for it",
				t.Host, r.Namespace, DefaultSecretName, AnnEnableTLS)
		}
	}
	sec, ok := r.secret(ctx, ns, name)
	if !ok {
		return nil, fmt.Sprintf("Secret %s/%s of host %s does not exist; HTTPS is not served for the host until it is created", ns, name, t.Host)
	}
	probe := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"},
		Spec: networkingv1.IngressSpec{TLS: []networkingv1.IngressTLS{{SecretName: name}}}}
	if res := rules.ValidateIngress(probe, nil, env); !res.Allowed() {
		return nil, fmt.Sprintf("HTTPS is not served for host %s: %s", t.Host, res.Errors[0].Detail)
	}
	return &model.Cert{Certificate: sec.Data[corev1.TLSCertKey], Key: sec.Data[corev1.TLSPrivateKeyKey]}, ""
}

// syncShard applies one shard and writes the status of its Ingresses.
func (r *IngressReconciler) syncShard(ctx context.Context, shard string, w *world) (ctrl.Result, error) {
	defer r.lock("shard/" + shard)()
	log := logr.FromContextOrDiscard(ctx).WithValues("shard", shard)
	began := time.Now()
	r.emitPlanEvents(w)
	sp := w.plan.Shards[shard]
	if sp == nil {
		res, err := r.Applier.Delete(ctx, apply.Owner{Name: shard, CreatedBy: r.Settings.CreatedBy(), Tenant: r.Settings.ControllerSettings.TenantName, L7: true})
		if err != nil {
			log.Info("removing the empty shard failed", "error", err.Error())
			return ctrl.Result{}, err
		}
		r.mu.Lock()
		delete(r.vips, shard)
		delete(r.known, shard)
		r.mu.Unlock()
		if res.Writes > 0 {
			log.Info("shard removed: no Ingress routes to it", "deleted", res.Deleted)
		}
		return ctrl.Result{}, nil
	}

	in := model.L7Input{Settings: r.Settings, Shard: sp, Backends: map[string]model.Member{}, Certs: map[string]*model.Cert{}}
	env := r.env()
	in.Snapshot = env.Inventory
	for _, rt := range sp.Routes {
		key := rt.Namespace + "/" + rt.Backend.Name
		m, ok := in.Backends[key]
		if !ok {
			var err error
			if m, err = r.backend(ctx, rt.Namespace, rt.Backend.Name); err != nil {
				return ctrl.Result{}, err
			}
			in.Backends[key] = m
		}
		if !model.BackendPortFound(m, rt.Backend) {
			port := rt.Backend.Port.Name
			if port == "" {
				port = fmt.Sprint(rt.Backend.Port.Number)
			}
			r.note(ctx, rt.Namespace+"/"+rt.Ingress, ReasonBackend, fmt.Sprintf("Service %s port %s of host %s path %s does not exist; the path answers 503 until it does", key, port, rt.Host, rt.Path))
		}
	}
	if model.NodePortMode(r.Settings) {
		addrs, err := (&ServiceReconciler{Client: r.Client, Settings: r.Settings}).nodeAddresses(ctx)
		if err != nil {
			return ctrl.Result{}, err
		}
		in.NodeAddresses = addrs
	}
	degraded := map[string]string{}
	for _, t := range sp.TLS {
		c, problem := r.loadCert(ctx, t, env)
		if c == nil {
			degraded[t.Host] = problem
			r.note(ctx, t.Ingress, ReasonTLSUnavailable, problem)
			continue
		}
		in.Certs[t.Host] = c
	}
	r.mu.Lock()
	for _, t := range sp.TLS {
		delete(r.degraded, t.Host)
	}
	for h, p := range degraded {
		r.degraded[h] = p
	}
	r.mu.Unlock()

	set, err := model.BuildL7(in)
	if err != nil {
		return ctrl.Result{}, err
	}
	res, err := r.Applier.Apply(ctx, set)
	if err != nil {
		return r.shardFailed(ctx, sp, err)
	}
	addrs := model.AllocatedAddresses(res.VsVip)
	if len(addrs) == 0 {
		return r.shardFailed(ctx, sp, fmt.Errorf("the controller returned VsVip %s without an address", shard))
	}
	r.mu.Lock()
	r.vips[shard] = addrs
	r.known[shard] = true
	for _, k := range sp.Ingresses {
		if r.seen[k] == nil {
			r.seen[k] = map[string]bool{}
		}
		r.seen[k][shard] = true
	}
	r.mu.Unlock()
	if res.Writes > 0 {
		log.Info("synced", "vip", addrs, "routes", len(sp.Routes), "writes", res.Writes, "created", len(res.Created), "updated", res.Updated, "deleted", res.Deleted, "took", time.Since(began).String())
	}
	// Status: the shard's Ingresses, and losers left with no host at all (to clear theirs).
	keys := slices.Clone(sp.Ingresses)
	for _, c := range w.plan.Conflicts {
		if len(w.plan.IngressHosts[c.Ingress]) == 0 && !slices.Contains(keys, c.Ingress) {
			keys = append(keys, c.Ingress)
		}
	}
	// Status patches are independent API calls: send several at once, so a
	// shard of hundreds of Ingresses is not hundreds of round trips in a row.
	var (
		wg   sync.WaitGroup
		emu  sync.Mutex
		errs []error
		sem  = make(chan struct{}, statusParallel)
	)
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := r.writeStatus(ctx, k, w.plan); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return ctrl.Result{}, errs[0]
	}
	return ctrl.Result{}, nil
}

// statusParallel bounds concurrent Ingress status patches of one shard sync.
const statusParallel = 16

// backend reads a Service and, in ClusterIP mode, its EndpointSlices from the cache.
func (r *IngressReconciler) backend(ctx context.Context, ns, name string) (model.Member, error) {
	var svc corev1.Service
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return model.Member{}, nil
		}
		return model.Member{}, err
	}
	m := model.Member{Service: &svc}
	if !model.NodePortMode(r.Settings) {
		var sl discoveryv1.EndpointSliceList
		if err := r.Client.List(ctx, &sl, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: name}); err != nil {
			return m, err
		}
		m.Slices = sl.Items
	}
	return m, nil
}

// emitPlanEvents tells Ingresses what they did not get (each message once).
func (r *IngressReconciler) emitPlanEvents(w *world) {
	ctx := context.Background()
	for k, why := range w.invalid {
		r.note(ctx, k, ReasonInvalid, "not served: "+why)
	}
	for _, c := range w.plan.Conflicts {
		r.note(ctx, c.Ingress, ReasonHostConflict, "not served: "+c.Reason)
	}
	for k, whys := range w.plan.Skipped {
		for _, why := range whys {
			r.note(ctx, k, ReasonUnsupported, why)
		}
	}
}

// note records a Warning Event on an Ingress unless the same message was the
// last one for that reason: a shard is recomputed often, and the same
// conflict must not become an Event write per sync.
func (r *IngressReconciler) note(ctx context.Context, key, reason, msg string) {
	r.mu.Lock()
	k := key + "|" + reason + "|" + msg
	_, dup := r.noted[k]
	if !dup {
		r.noted[k] = msg
	}
	r.mu.Unlock()
	if dup {
		return
	}
	ns, name, _ := strings.Cut(key, "/")
	var ing networkingv1.Ingress
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &ing); err != nil {
		return
	}
	logr.FromContextOrDiscard(ctx).Info("ingress not fully served", "ingress", key, "reason", reason, "message", msg)
	r.Recorder.Event(&ing, corev1.EventTypeWarning, reason, msg)
}

// shardFailed records a controller error on every Ingress of the shard and decides the retry.
func (r *IngressReconciler) shardFailed(ctx context.Context, sp *model.ShardPlan, err error) (ctrl.Result, error) {
	msg := session.Message(err)
	reason := ReasonControllerError
	if session.IsRetryable(err) {
		reason = ReasonControllerDown
	}
	logr.FromContextOrDiscard(ctx).Info("controller refused or failed", "shard", sp.Name, "reason", reason, "error", msg)
	for _, k := range sp.Ingresses {
		r.note(ctx, k, reason, fmt.Sprintf("virtual service %s: %s", sp.Name, msg))
	}
	if session.IsBadRequest(err) {
		wait := r.RetryBadRequest
		if wait == 0 {
			wait = time.Minute
		}
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	return ctrl.Result{}, err
}

// writeStatus sets status.loadBalancer.ingress[] of one Ingress: per served
// host (sorted) and per VIP of the host's shard, {ip, hostname}; hosts whose
// shard has not been applied yet are added when it is.
func (r *IngressReconciler) writeStatus(ctx context.Context, key string, plan *model.L7Plan) error {
	defer r.lock("ingress/" + key)()
	ns, name, _ := strings.Cut(key, "/")
	var ing networkingv1.Ingress
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &ing); err != nil {
		return client.IgnoreNotFound(err)
	}
	if ing.DeletionTimestamp != nil {
		return nil
	}
	var want []networkingv1.IngressLoadBalancerIngress
	r.mu.Lock()
	for _, h := range plan.IngressHosts[key] {
		for _, a := range r.vips[plan.HostShard[h]] {
			e := networkingv1.IngressLoadBalancerIngress{IP: a.String(), Hostname: h}
			if _, bad := r.degraded[h]; bad {
				e.Ports = []networkingv1.IngressPortStatus{{Port: 443, Protocol: corev1.ProtocolTCP, Error: ptrTo(PortErrorTLS)}}
			}
			want = append(want, e)
		}
	}
	r.mu.Unlock()
	if lbEqual(ing.Status.LoadBalancer.Ingress, want) {
		return nil
	}
	patch := client.MergeFrom(ing.DeepCopy())
	first := len(ing.Status.LoadBalancer.Ingress) == 0
	ing.Status.LoadBalancer.Ingress = want
	if err := r.Client.Status().Patch(ctx, &ing, patch); err != nil {
		return client.IgnoreNotFound(err)
	}
	if first && len(want) > 0 {
		r.Recorder.Eventf(&ing, corev1.EventTypeNormal, ReasonSynced, "served on VIP %s", want[0].IP)
	}
	return nil
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

// reconcileIngress keeps the cleanup finalizer on an Ingress vipgate owns and
// releases one that is being deleted or is no longer vipgate's.
func (r *IngressReconciler) reconcileIngress(ctx context.Context, key types.NamespacedName) (ctrl.Result, error) {
	log := logr.FromContextOrDiscard(ctx)
	var ing networkingv1.Ingress
	if err := r.Client.Get(ctx, key, &ing); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	classes, err := r.classes(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	owned := r.classFor(&ing, classes) != nil
	has := controllerutil.ContainsFinalizer(&ing, webhooks.CleanupFinalizer)
	if owned && ing.DeletionTimestamp == nil {
		if has {
			return ctrl.Result{}, nil
		}
		patch := client.MergeFrom(ing.DeepCopy())
		controllerutil.AddFinalizer(&ing, webhooks.CleanupFinalizer)
		return ctrl.Result{}, client.IgnoreNotFound(r.Client.Patch(ctx, &ing, patch))
	}
	if !has && len(ing.Status.LoadBalancer.Ingress) == 0 {
		return ctrl.Result{}, nil
	}
	// Re-apply every shard the Ingress may be on, now without it, before letting it go.
	w, err := r.world(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	k := key.String()
	shards := r.shardsOf(ctx, &ing, classes)
	for _, s := range shards {
		if res, err := r.syncShard(ctx, s, w); err != nil || res.RequeueAfter > 0 {
			return res, err
		}
	}
	if ing.DeletionTimestamp == nil && len(ing.Status.LoadBalancer.Ingress) > 0 {
		patch := client.MergeFrom(ing.DeepCopy())
		ing.Status.LoadBalancer.Ingress = nil
		if err := r.Client.Status().Patch(ctx, &ing, patch); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	if has {
		patch := client.MergeFrom(ing.DeepCopy())
		controllerutil.RemoveFinalizer(&ing, webhooks.CleanupFinalizer)
		if err := r.Client.Patch(ctx, &ing, patch); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
	}
	r.mu.Lock()
	delete(r.seen, k)
	for n := range r.noted {
		if strings.HasPrefix(n, k+"|") {
			delete(r.noted, n)
		}
	}
	r.mu.Unlock()
	log.Info("released", "ingress", k, "deleted", ing.DeletionTimestamp != nil, "shards", shards)
	return ctrl.Result{}, nil
}

// shardsOf lists the shards an Ingress's hosts map to through its class (or,
// when it has none of vipgate's any more, through the global settings), plus
// every shard it has had routes on since start.
func (r *IngressReconciler) shardsOf(ctx context.Context, ing *networkingv1.Ingress, classes []networkingv1.IngressClass) []string {
	var infra *v1beta1.AviInfraSetting
	if c := r.classFor(ing, classes); c != nil {
		infra, _ = r.infraFor(ctx, c, map[string]*v1beta1.AviInfraSetting{})
	}
	out := model.ShardsOf(r.Settings, model.L7Ingress{Ingress: ing, Infra: infra})
	r.mu.Lock()
	for s := range r.seen[ing.Namespace+"/"+ing.Name] {
		out = append(out, s)
	}
	r.mu.Unlock()
	slices.Sort(out)
	return slices.Compact(out)
}

// SetupWithManager registers the field indexes and watches: Ingresses (their
// key and their shards), IngressClasses and AviInfraSettings (everything),
// Secrets (the shards of the Ingresses naming them; the default
// certificate: everything), Services and EndpointSlices (the shards routing to
// them), and Nodes in NodePort mode.
func (r *IngressReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.init()
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &networkingv1.Ingress{}, IndexIngressSecret, func(o client.Object) []string {
		ing := o.(*networkingv1.Ingress)
		var out []string
		for _, t := range ing.Spec.TLS {
			if t.SecretName != "" {
				out = append(out, ing.Namespace+"/"+t.SecretName)
			}
		}
		return out
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &networkingv1.Ingress{}, IndexIngressBackend, func(o client.Object) []string {
		ing := o.(*networkingv1.Ingress)
		var out []string
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				if p.Backend.Service != nil {
					out = append(out, ing.Namespace+"/"+p.Backend.Service.Name)
				}
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}); err != nil {
		return err
	}
	name := "ingress"
	if r.Name != "" {
		name = r.Name
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named(name).
		Watches(&networkingv1.Ingress{}, handler.Funcs{
			CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.enqueueIngress(ctx, q, e.Object)
			},
			UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				if !ingressChanged(e.ObjectOld, e.ObjectNew) {
					return
				}
				r.enqueueIngress(ctx, q, e.ObjectOld)
				r.enqueueIngress(ctx, q, e.ObjectNew)
			},
			DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.enqueueIngress(ctx, q, e.Object)
			},
		}).
		Watches(&networkingv1.IngressClass{}, handler.EnqueueRequestsFromMapFunc(r.everything)).
		Watches(&v1beta1.AviInfraSetting{}, handler.EnqueueRequestsFromMapFunc(r.everything)).
		// A namespace that starts or stops matching namespaceSelector takes its Ingresses along.
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.everything), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// The typed Secret informer admission reads too (one watch on Secrets);
		// its objects carry no data, and the mapping needs only namespace/name.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretToShards)).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
			return r.byIndex(ctx, IndexIngressBackend, o.GetNamespace()+"/"+o.GetName())
		})).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
			svc := o.GetLabels()[discoveryv1.LabelServiceName]
			if svc == "" {
				return nil
			}
			return r.byIndex(ctx, IndexIngressBackend, o.GetNamespace()+"/"+svc)
		})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8})
	if model.NodePortMode(r.Settings) {
		b = b.Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.everything))
	}
	return b.Complete(r)
}

// ingressChanged ignores status-only updates (our own status patches).
func ingressChanged(o, n client.Object) bool {
	return o.GetGeneration() != n.GetGeneration() ||
		!mapsEqual(o.GetAnnotations(), n.GetAnnotations()) ||
		!slices.Equal(o.GetFinalizers(), n.GetFinalizers()) ||
		(o.GetDeletionTimestamp() == nil) != (n.GetDeletionTimestamp() == nil) ||
		len(n.(*networkingv1.Ingress).Status.LoadBalancer.Ingress) == 0 && len(o.(*networkingv1.Ingress).Status.LoadBalancer.Ingress) > 0
}

func shardRequest(name string) ctrl.Request {
	return ctrl.Request{NamespacedName: types.NamespacedName{Name: name}}
}

func (r *IngressReconciler) enqueueIngress(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], o client.Object) {
	ing, ok := o.(*networkingv1.Ingress)
	if !ok {
		return
	}
	classes, err := r.classes(ctx)
	if err != nil {
		return
	}
	if r.classFor(ing, classes) == nil && !controllerutil.ContainsFinalizer(ing, webhooks.CleanupFinalizer) {
		return
	}
	q.Add(ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ing)})
	for _, s := range r.shardsOf(ctx, ing, classes) {
		q.Add(shardRequest(s))
	}
}

// byIndex maps to the shards of the Ingresses found under an index value.
func (r *IngressReconciler) byIndex(ctx context.Context, index, value string) []ctrl.Request {
	var list networkingv1.IngressList
	if err := r.Client.List(ctx, &list, client.MatchingFields{index: value}); err != nil || len(list.Items) == 0 {
		return nil
	}
	classes, err := r.classes(ctx)
	if err != nil {
		return nil
	}
	var out []ctrl.Request
	for i := range list.Items {
		if r.classFor(&list.Items[i], classes) == nil {
			continue
		}
		for _, s := range r.shardsOf(ctx, &list.Items[i], classes) {
			out = append(out, shardRequest(s))
		}
	}
	return out
}

func (r *IngressReconciler) secretToShards(ctx context.Context, o client.Object) []ctrl.Request {
	if o.GetNamespace() == r.Namespace && o.GetName() == DefaultSecretName {
		return r.everything(ctx, o)
	}
	return r.byIndex(ctx, IndexIngressSecret, o.GetNamespace()+"/"+o.GetName())
}

// everything enqueues every shard vipgate's Ingresses map to or that it has
// applied since start, and every Ingress holding the cleanup finalizer: after
// an IngressClass or AviInfraSetting change any of them may move or be released.
func (r *IngressReconciler) everything(ctx context.Context, _ client.Object) []ctrl.Request {
	var list networkingv1.IngressList
	if err := r.Client.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	classes, err := r.classes(ctx)
	if err != nil {
		return nil
	}
	set := map[ctrl.Request]bool{}
	for i := range list.Items {
		ing := &list.Items[i]
		owned := r.classFor(ing, classes) != nil
		if owned || controllerutil.ContainsFinalizer(ing, webhooks.CleanupFinalizer) {
			set[ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ing)}] = true
		}
		if owned {
			for _, s := range r.shardsOf(ctx, ing, classes) {
				set[shardRequest(s)] = true
			}
		}
	}
	r.mu.Lock()
	for s := range r.known {
		set[shardRequest(s)] = true
	}
	r.mu.Unlock()
	out := make([]ctrl.Request, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b ctrl.Request) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return out
}

// ExpectedNames returns "type/name" of every controller object the current
// Ingresses account for, for start-up orphan collection.
func (r *IngressReconciler) ExpectedNames(ctx context.Context) (map[string]bool, error) {
	r.init()
	w, err := r.world(ctx)
	if err != nil {
		return nil, err
	}
	return model.L7Names(r.Settings, w.plan), nil
}
