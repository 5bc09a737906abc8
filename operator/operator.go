// Package operator assembles vipgate: one controller-runtime manager with the
// admission webhooks (served by every replica), the inventory refresher and the
// reconcilers (leader only). cmd/vipgate, the tests and the demo all start it here.
package operator

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/vipgate/vipgate/avi/apply"
	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/inventory/loader"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1alpha1"
	"github.com/vipgate/vipgate/crds/v1alpha2"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/reconcile"
	"github.com/vipgate/vipgate/webhooks"
)

// TLSSecretsOnly is the field selector of vipgate's Secret informer: the
// API server sends it Secrets of type kubernetes.io/tls and no others.
var TLSSecretsOnly = fields.OneTermEqualSelector("type", string(corev1.SecretTypeTLS))

// Options configure one vipgate process.
type Options struct {
	Settings *config.Settings
	// Credentials log in to the controller: a config.Credentials value, or a
	// config.CredentialsDir following the mounted Secret, so that a rotated
	// password is used by the next login without a restart.
	Credentials config.CredentialSource
	// Namespace vipgate runs in (leader lease, default TLS secret, never intercepted).
	Namespace string

	WebhookHost    string
	WebhookPort    int
	WebhookCertDir string

	MetricsAddr string
	HealthAddr  string
	// PprofAddr serves net/http/pprof (heap and CPU profiles) when not
	// empty; off by default, since profiles show internals to whoever can
	// reach the port.
	PprofAddr string

	LeaderElect      bool
	LeaderElectionID string

	// Controller is the controller connection; when nil, New connects with
	// Settings.ControllerSettings and Credentials.
	Controller *session.Client
	// AdmissionOnly runs the webhooks without a controller connection or
	// reconcilers; controller-dependent checks then warn and admit (or read Inventory).
	AdmissionOnly bool
	// Inventory overrides the controller inventory admission reads (tests).
	Inventory inventory.Source
	// InventoryInterval is the periodic inventory refresh (default 60s).
	InventoryInterval time.Duration
	// InventoryStaleAfter bounds the inventory's age before its checks fail open.
	InventoryStaleAfter time.Duration
	// ConnectTimeout bounds the first connection to the controller (default 2m).
	ConnectTimeout time.Duration
	// ReadyGrace is how long /readyz waits for the first inventory load (default
	// 30s). After it the replica is ready anyway and controller-dependent checks
	// fail open with a warning, so a controller outage never blocks the cluster.
	ReadyGrace time.Duration

	// RetryBadRequest is how long a Service waits before its next attempt after
	// the controller refused the request (400, e.g. "No available free IPs");
	// default one minute (tests shorten it).
	RetryBadRequest time.Duration
	// InfraSettingRecheck is how often an AviInfraSetting is re-evaluated
	// against the controller; default five minutes (tests shorten it).
	InfraSettingRecheck time.Duration
	// IngressSettle is how long an L7 shard's sync waits for changes to its
	// Ingresses to stop (reconcile.IngressReconciler.Settle; 0: its default).
	IngressSettle time.Duration
	// RuleRecheck is how often a HostRule, HTTPRule or L4Rule is judged
	// again against the controller; default five minutes (tests shorten it).
	RuleRecheck time.Duration

	// PodName names vipgate's own Pod, where settings problems found against
	// the controller are reported as Events (POD_NAME from the downward API).
	PodName string
	// TeardownDone, when set, is told the outcome of each deleteConfig teardown attempt (tests).
	TeardownDone func(deleted []string, err error)
	// OrphansCollected, when set, is told what start-up orphan collection deleted (tests).
	OrphansCollected func(deleted []string, err error)

	// SyncIngressWebhook keeps the Ingress webhook's match condition equal to
	// vipgate's IngressClasses (webhooks.ClassSync, leader only). The binary
	// turns it on; tests that install a fixed configuration leave it off.
	SyncIngressWebhook bool

	// ExtraSetup runs after the webhooks are registered (reconcilers, inventory refresher).
	ExtraSetup func(ctx context.Context, mgr ctrl.Manager) error
}

// Scheme returns the scheme with Kubernetes' built-in types, ako.vmware.com
// and Gateway API (whose informers start only when its CRDs are installed).
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1beta1.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	utilruntime.Must(v1alpha2.AddToScheme(s))
	utilruntime.Must(gatewayv1.Install(s))
	utilruntime.Must(gatewayv1beta1.Install(s))
	return s
}

// TLSOptions enforce TLS 1.2+ and HTTP/1.1 on the webhook server: the API
// server needs nothing newer, and HTTP/2 has had denial-of-service problems.
func TLSOptions() []func(*tls.Config) {
	return []func(*tls.Config){func(c *tls.Config) {
		c.MinVersion = tls.VersionTLS12
		c.NextProtos = []string{"http/1.1"}
	}}
}

// Operator is an assembled vipgate: start Manager to run it.
type Operator struct {
	Manager ctrl.Manager
	// Controller and Inventory are nil when AdmissionOnly.
	Controller *session.Client
	Inventory  *loader.Cache

	// identityChecked: the start-up check read the controller and found no
	// other cluster with this clusterName.
	identityChecked bool

	// GatewayAPI is set when the cluster serves Gateway API (GatewayAPIInstalled).
	GatewayAPI bool
	// gateways lists the owner identities of the Gateways vipgate serves,
	// for orphan collection (nil when Gateway API is off).
	gateways func(ctx context.Context) (map[string]bool, error)
}

// connect logs in to the controller, retrying until ConnectTimeout: a controller
// that is briefly unreachable at start-up should not crash-loop the pod. What
// retrying cannot fix (refused credentials, an untrusted certificate) fails at once.
func connect(ctx context.Context, o Options) (*session.Client, error) {
	limit := o.ConnectTimeout
	if limit == 0 {
		limit = 2 * time.Minute
	}
	deadline := time.Now().Add(limit)
	log := logr.FromContextOrDiscard(ctx)
	if o.Settings.ControllerSettings.InsecureSkipVerify {
		log.Info("WARNING: the controller's TLS certificate is not verified (ControllerSettings.insecureSkipVerify is true): "+
			"anyone on the path can read the controller credentials; put the controller's CA in certificateAuthorityData instead",
			"controller", o.Settings.ControllerSettings.ControllerHost)
	}
	if o.Credentials == nil {
		return nil, fmt.Errorf("operator: controller credentials are required")
	}
	wait := 500 * time.Millisecond
	for {
		c, err := session.New(ctx, o.Settings.ControllerSettings, o.Credentials, session.Options{})
		if err == nil {
			return c, nil
		}
		if !session.IsRetryable(err) || time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("connecting to the controller at %s: %w", o.Settings.ControllerSettings.ControllerHost, err)
		}
		log.Info("controller not reachable yet; retrying", "error", session.Message(err), "in", wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 10*time.Second)
	}
}

// New builds the operator with the webhooks, the inventory and the
// reconcilers registered; call Manager.Start to run it.
func New(ctx context.Context, cfg *rest.Config, o Options) (*Operator, error) {
	if o.Settings == nil {
		return nil, fmt.Errorf("operator: settings are required")
	}
	op := &Operator{}
	if o.Settings.ClusterID == "" {
		direct, err := client.New(cfg, client.Options{Scheme: Scheme()})
		if err != nil {
			return nil, err
		}
		if o.Settings.ClusterID, err = ClusterID(ctx, direct); err != nil {
			return nil, err
		}
	}
	if !o.AdmissionOnly {
		op.Controller = o.Controller
		if op.Controller == nil {
			c, err := connect(ctx, o)
			if err != nil {
				return nil, err
			}
			op.Controller = c
		}
		client, settings := op.Controller, o.Settings
		op.Inventory = loader.NewCache(func(ctx context.Context) (*inventory.Snapshot, error) {
			return loader.Load(ctx, client, settings)
		}, o.InventoryInterval)
		if o.Inventory == nil {
			o.Inventory = op.Inventory
		}
		checked, err := checkSEGroup(ctx, op.Inventory, o.Settings)
		if err != nil {
			return nil, err
		}
		op.identityChecked = checked
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = "vipgate-" + o.Settings.AKOSettings.ClusterName
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  Scheme(),
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:  o.HealthAddr,
		PprofBindAddress:        o.PprofAddr,
		LeaderElection:          o.LeaderElect,
		LeaderElectionID:        o.LeaderElectionID,
		LeaderElectionNamespace: o.Namespace,
		// Leader-only runnables stop at once when leadership is lost.
		LeaderElectionReleaseOnCancel: true,
		WebhookServer: webhook.NewServer(webhook.Options{
			Host:    o.WebhookHost,
			Port:    o.WebhookPort,
			CertDir: o.WebhookCertDir,
			TLSOpts: TLSOptions(),
		}),
		// The Secret informer holds only Secrets of type kubernetes.io/tls, the
		// only type a certificate may come from: a cluster's other Secrets
		// (service account tokens, Helm releases of hundreds of KB, application
		// settings) are most of its Secrets and none of vipgate's business, and
		// were listed, decoded and held for nothing. One that an Ingress names
		// anyway is read once when it is judged, to say what it is (admission's
		// TLSSecret and the L7 reconciler's secretStore read the API server on
		// a cache miss). It keeps no key material either: its transform replaces
		// each Secret's data by a TLS summary (annotation on the cached copy
		// only, never written back) that admission judges without an API call.
		// Every other cached object loses managedFields and the last-applied
		// annotation (ownership.TransformCached), which nothing reads.
		Cache: cache.Options{
			DefaultTransform: ownership.TransformCached,
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Secret{}: {Transform: ownership.TransformSecret, Field: TLSSecretsOnly},
			},
		},
		// Controller names are fixed and unique within one manager; tests run
		// several managers in one process, which name validation forbids.
		Controller: crconfig.Controller{SkipNameValidation: ptr.To(true)},
		// So the manager's client reads full Secrets from the API server (the
		// L7 reconciler builds certificates from them); cache readers that want
		// the summary read mgr.GetCache() directly.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	})
	if err != nil {
		return nil, err
	}
	// Indexes first: the lookups, webhooks and reconcilers all query them.
	if err := cluster.SetupIndexes(ctx, indexer(mgr)); err != nil {
		return nil, err
	}
	lookups := cluster.NewCacheLookups(mgr, o.Settings)
	if op.GatewayAPI = GatewayAPIInstalled(mgr.GetRESTMapper()); !op.GatewayAPI {
		mgr.GetLogger().Info("Gateway API is off: the cluster does not serve gateway.networking.k8s.io/v1 GatewayClasses and Gateways")
	}
	if err := webhooks.Setup(mgr, webhooks.Options{
		Settings:   o.Settings,
		Inventory:  o.Inventory,
		StaleAfter: o.InventoryStaleAfter,
		Lookups:    lookups,
		Classes:    mgr.GetCache(),
		ClassesAPI: mgr.GetAPIReader(),
	}); err != nil {
		return nil, fmt.Errorf("registering webhooks: %w", err)
	}
	if op.GatewayAPI {
		if err := setupGatewayAdmission(ctx, mgr, webhooks.Options{Settings: o.Settings, Inventory: o.Inventory, StaleAfter: o.InventoryStaleAfter, Lookups: lookups}); err != nil {
			return nil, err
		}
	}
	if o.SyncIngressWebhook {
		if err := mgr.Add(&webhooks.ClassSync{
			Classes: mgr.GetCache(), Informers: mgr.GetCache(), API: mgr.GetAPIReader(), Writer: mgr.GetClient(),
			Settings: o.Settings, Log: mgr.GetLogger().WithName("ingress-webhook-classes"),
		}); err != nil {
			return nil, err
		}
	}
	if !o.AdmissionOnly {
		if err := op.setupReconcilers(mgr, o, lookups); err != nil {
			return nil, err
		}
	}
	// Start every informer admission reads eagerly, without waiting: the
	// first request must not start (and wait for) one, and the Secret one
	// (transformed) is the largest.
	for _, obj := range []client.Object{&corev1.Secret{}, &corev1.Service{}, &corev1.Namespace{}, &networkingv1.Ingress{},
		&networkingv1.IngressClass{}, &v1beta1.AviInfraSetting{}, &v1beta1.HostRule{}, &v1beta1.HTTPRule{}, &v1alpha2.L4Rule{}} {
		if _, err := mgr.GetCache().GetInformer(ctx, obj, cache.BlockUntilSynced(false)); err != nil {
			return nil, fmt.Errorf("starting informer for %T: %w", obj, err)
		}
	}
	if err := mgr.Add(&memTrimmer{Log: mgr.GetLogger().WithName("memory")}); err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	// Ready once the webhook server answers TLS: a replica is not put behind the
	// webhook Service before it can admit.
	if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
		return nil, err
	}
	if op.Inventory != nil {
		check := settingsChecker(mgr, o)
		op.Inventory.OnRefresh = func(ctx context.Context, snap *inventory.Snapshot) {
			check(ctx, snap)
			exportVIPUsage(snap)
		}
		if err := mgr.Add(op.Inventory); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("inventory", inventoryLoaded(op.Inventory, o.ReadyGrace)); err != nil {
			return nil, err
		}
	}
	if o.ExtraSetup != nil {
		if err := o.ExtraSetup(ctx, mgr); err != nil {
			return nil, err
		}
	}
	op.Manager = mgr
	return op, nil
}

// setupReconcilers registers the leader-only controllers and start-up orphan collection.
func (op *Operator) setupReconcilers(mgr ctrl.Manager, o Options, lookups *cluster.CacheLookups) error {
	applier := apply.New(op.Controller, o.Settings.CreatedBy(), o.Settings.AKOSettings.ClusterName+"--")
	// Admission sees our own writes (new VIPs in use) at the next refresh.
	// The writes keep admission's inventory current (VIPs in use) without a
	// reload; an SE group label edit asks for one.
	applier.OnVsVip = op.Inventory.Observe
	applier.OnWrite = op.Inventory.Invalidate
	// Switching from AKO: its objects of this clusterName are taken over in
	// place, but never while AKO itself still runs.
	applier.AdoptFrom, applier.Cluster = o.Settings.AdoptFromAKO(), o.Settings.AKOSettings.ClusterName
	if applier.AdoptFrom != "" {
		applier.AKOGate = (&cluster.AKODetector{Reader: mgr.GetAPIReader(), Namespace: o.Settings.AKOSettings.AKONamespace}).Check
	}
	// record.EventRecorder writes core/v1 Events, which kubectl describe shows;
	// AKO's enableEvents: false turns them off.
	var recorder record.EventRecorder = mgr.GetEventRecorderFor("vipgate") //nolint:staticcheck
	if !o.Settings.AKOSettings.EnableEvents {
		recorder = noEvents{}
	}
	// No write before this cluster's identity is checked (see identityGate);
	// the start-up check, when it could read the controller, already did.
	gate := &identityGate{Applier: applier, snapshot: op.Inventory.Snapshot, refresh: op.Inventory.Refresh,
		settings: o.Settings, fatal: make(chan error, 1)}
	gate.verified.Store(op.identityChecked)
	if err := mgr.Add(fatalRunnable(gate.fatal)); err != nil {
		return err
	}
	var writer reconcile.Applier = gate
	if o.Settings.AKOSettings.DeleteConfig {
		// AKO's deleteConfig: remove everything instead of reconciling.
		td := &reconcile.Teardown{
			Client: mgr.GetClient(), Cache: mgr.GetCache(), Applier: writer, Settings: o.Settings, Done: o.TeardownDone,
		}
		if on, _ := reconcile.RoutesEnabled(o.Settings); on {
			routes := &reconcile.RoutesReconciler{Client: mgr.GetClient(), Applier: writer, Settings: o.Settings}
			td.Routes = routes.RemoveAll
		}
		return mgr.Add(td)
	}
	// AKO's full sync: the controller read again every fullSyncFrequency,
	// and every Service, shard and Gateway queued, so what was changed
	// behind vipgate's back is put back.
	full := &reconcile.FullSync{Period: fullSync(o.Settings), Reload: applier.Reload, Log: mgr.GetLogger().WithName("fullsync")}
	if err := mgr.Add(full); err != nil {
		return err
	}
	svc := &reconcile.ServiceReconciler{
		FullSync:  full,
		Client:    mgr.GetClient(),
		Recorder:  recorder,
		Settings:  o.Settings,
		Applier:   writer,
		Inventory: op.Inventory,
		Lookups:   lookups,

		RetryBadRequest: o.RetryBadRequest,
	}
	if err := svc.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("service controller: %w", err)
	}
	npl := &reconcile.NPLServiceAnnotator{Client: mgr.GetClient(), Settings: o.Settings}
	if err := npl.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("NodePortLocal annotator: %w", err)
	}
	ais := &reconcile.InfraSettingReconciler{
		Client: mgr.GetClient(), Settings: o.Settings, Inventory: op.Inventory, Lookups: lookups,
		Recheck: o.InfraSettingRecheck,
	}
	if err := ais.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("aviinfrasetting controller: %w", err)
	}
	for _, kind := range []string{reconcile.KindHostRule, reconcile.KindHTTPRule, reconcile.KindL4Rule} {
		rs := &reconcile.RuleStatusReconciler{Client: mgr.GetClient(), Recorder: recorder, Settings: o.Settings,
			Inventory: op.Inventory, Lookups: lookups, Kind: kind, Recheck: o.RuleRecheck}
		if err := rs.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("%s status controller: %w", kind, err)
		}
	}
	if err := op.setupRoutes(mgr, o, writer); err != nil {
		return err
	}
	if op.GatewayAPI {
		if err := op.setupGateway(mgr, o, lookups, writer, recorder, full); err != nil {
			return err
		}
	}
	ing := &reconcile.IngressReconciler{
		FullSync:  full,
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		// The transformed cache tells a Secret's version (and existence) without an API call.
		SecretCache: mgr.GetCache(),
		Recorder:    recorder,
		Settings:    o.Settings,
		Applier:     writer,
		Inventory:   op.Inventory,
		Lookups:     lookups,
		Namespace:   o.Namespace,

		RetryBadRequest: o.RetryBadRequest,
		Settle:          o.IngressSettle,
	}
	if err := ing.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("ingress controller: %w", err)
	}
	fin := &reconcile.IngressFinalizerReconciler{Client: mgr.GetClient(), Settings: o.Settings, Inventory: op.Inventory, AKOGate: applier.AKOGate}
	if err := fin.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("ingress finalizer controller: %w", err)
	}
	return mgr.Add(&reconcile.OrphanCollector{
		Client: mgr.GetClient(), Cache: mgr.GetCache(), Applier: writer, Settings: o.Settings, Done: o.OrphansCollected,
		L7Names: ing.ExpectedNames, Shards: ing.RemoveShard, AKOGate: applier.AKOGate, Gateways: op.gateways,
	})
}

// inventoryLoaded keeps a replica out of the webhook Service until it has the
// controller inventory to judge with, or until grace has passed.
func inventoryLoaded(inv *loader.Cache, grace time.Duration) healthz.Checker {
	if grace == 0 {
		grace = 30 * time.Second
	}
	start := time.Now()
	return func(*http.Request) error {
		if inv.Snapshot() != nil || time.Since(start) > grace {
			return nil
		}
		return fmt.Errorf("controller inventory not loaded yet")
	}
}

// noEvents drops Events (AKOSettings.enableEvents false); logs still say what happened.
type noEvents struct{}

func (noEvents) Event(runtime.Object, string, string, string)                                      {}
func (noEvents) Eventf(runtime.Object, string, string, string, ...any)                             {}
func (noEvents) AnnotatedEventf(runtime.Object, map[string]string, string, string, string, ...any) {}

// indexer registers vipgate's field indexes on the manager's cache, with
// one key per value for those only queried across every namespace.
func indexer(mgr ctrl.Manager) client.FieldIndexer {
	return cluster.ClusterWideIndexer{Informers: mgr.GetCache(), Fallback: mgr.GetFieldIndexer(), Namespaced: cluster.NamespacedIndexes}
}
