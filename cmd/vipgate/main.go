// Command vipgate runs the operator: admission webhooks for Services, Ingresses
// and AviInfraSettings, and the reconcilers that program the Avi Controller.
// Its subcommands check manifests offline with the same rules (vipgate
// check) and export the controller inventory that check reads (vipgate
// inventory export).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/certs"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/webhooks"
)

// defaultGCPercent is the garbage collector's target when GOGC is not set
// (the runtime's default is 100).
const defaultGCPercent = 50

func main() {
	os.Exit(run())
}

func run() int {
	if code, ok := subcommand(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); ok {
		return code
	}
	// vipgate's heap is mostly its caches, held for as long as it runs; the
	// runtime's default lets garbage grow to as much again before a
	// collection. Half that keeps the resident memory nearer what the caches
	// need, for collections that cost little at this heap size (about 2% of
	// the CPU of a burst of 1,000 Services). GOGC still decides when set.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	var (
		settingsPath   = flag.String("settings", "/etc/vipgate/settings/settings.yaml", "settings file with AKO's Helm sections (AKOSettings, NetworkSettings, ...)")
		credentialsDir = flag.String("credentials-dir", "/etc/vipgate/credentials", "folder of the mounted controller credentials Secret (username, password or authtoken, certificateAuthorityData); followed while running")
		namespace      = flag.String("namespace", os.Getenv("POD_NAMESPACE"), "namespace vipgate runs in")
		webhookHost    = flag.String("webhook-host", "", "address the webhook server binds to")
		webhookPort    = flag.Int("webhook-port", 9443, "webhook server port")
		certDir        = flag.String("webhook-cert-dir", "/etc/vipgate/webhook-certs", "folder with tls.crt and tls.key; reloaded when they change")
		metricsAddr    = flag.String("metrics-bind-address", ":8080", "metrics address; 0 disables")
		healthAddr     = flag.String("health-probe-bind-address", ":8081", "address of /healthz and /readyz")
		pprofAddr      = flag.String("pprof-bind-address", "", "address of net/http/pprof (/debug/pprof/heap, /debug/pprof/profile); empty disables")
		leaderElect    = flag.Bool("leader-elect", true, "elect one replica to reconcile; every replica serves webhooks")
		staleAfter     = flag.Duration("inventory-stale-after", 3*time.Minute, "age past which controller-dependent admission checks fail open with a warning")
		invInterval    = flag.Duration("inventory-interval", time.Minute, "periodic refresh of the controller inventory (it is also refreshed after each write)")
		connectTimeout = flag.Duration("controller-connect-timeout", 2*time.Minute, "how long to retry the first login to the controller before exiting")
		serviceName    = flag.String("webhook-service-name", "vipgate-webhook", "name of the webhook Service (for self-managed certificates)")
		selfCerts      = flag.Bool("self-managed-certs", false, "keep a CA and serving certificate in a Secret and patch caBundle, for clusters without cert-manager")
		syncIngress    = flag.Bool("sync-ingress-webhook", true, "keep the Ingress webhook's match condition equal to the IngressClasses of controller ako.vmware.com/avi-lb (leader only)")
	)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("vipgate")
	if soft, err := setMemoryLimit(); err != nil {
		log.Error(err, "memory limit not applied")
	} else if soft > 0 {
		log.Info("Go runtime memory limit set below the container's", "softLimitMiB", soft>>20)
	}

	settings, err := config.Load(*settingsPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	// The folder is re-read while vipgate runs: a rotated password or token
	// (kubelet updates the mounted Secret in place) is used by the next login.
	creds, err := config.NewCredentialsDir(*credentialsDir, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for _, msg := range settings.Unsupported() {
		log.Info("setting has no effect", "detail", msg)
	}
	// After start-up errors have been printed: the filter replaces os.Stderr
	// with a pipe, and a process exiting right away could lose its last lines.
	session.SilenceSDKInfoLogs()
	ctx := ctrl.SetupSignalHandler()
	cfg := ctrl.GetConfigOrDie()
	// The API server would gzip every watch event and list page it sends
	// (per flush, for each watcher): CPU on both ends for bandwidth that
	// the cluster's own network has to spare.
	cfg.DisableCompression = true
	var certManager *certs.Manager
	if *selfCerts {
		// The files must exist before the webhook server starts, so the first
		// issue happens here, through a client that reads the API server directly.
		direct, err := client.New(cfg, client.Options{Scheme: operator.Scheme()})
		if err != nil {
			log.Error(err, "building a client for self-managed certificates")
			return 1
		}
		certManager, err = certs.NewManager(certs.Options{
			Client: direct, Namespace: *namespace, ServiceName: *serviceName, CertDir: *certDir,
			MutatingConfigName: webhooks.MutatingConfigName, ValidatingConfigName: webhooks.ValidatingConfigName,
			Log: log.WithName("certs"),
		})
		if err == nil {
			_, err = certManager.Sync(ctx)
		}
		if err != nil {
			log.Error(err, "self-managed webhook certificates")
			return 1
		}
	}
	op, err := operator.New(ctx, cfg, operator.Options{
		Settings:            settings,
		Credentials:         creds,
		Namespace:           *namespace,
		PodName:             os.Getenv("POD_NAME"),
		WebhookHost:         *webhookHost,
		WebhookPort:         *webhookPort,
		WebhookCertDir:      *certDir,
		MetricsAddr:         *metricsAddr,
		HealthAddr:          *healthAddr,
		PprofAddr:           *pprofAddr,
		LeaderElect:         *leaderElect,
		InventoryStaleAfter: *staleAfter,
		InventoryInterval:   *invInterval,
		ConnectTimeout:      *connectTimeout,
		SyncIngressWebhook:  *syncIngress,
	})
	if err != nil {
		log.Error(err, "setting up")
		return 1
	}
	if certManager != nil {
		if err := op.Manager.Add(certManager); err != nil {
			log.Error(err, "adding the certificate manager")
			return 1
		}
	}
	if w, err := certExpiryWatcher(*certDir); err != nil {
		// The webhook server fails on its own with this error; only the metric is lost here.
		log.Error(err, "reading the webhook certificate for its expiry metric")
	} else if err := op.Manager.Add(w); err != nil {
		log.Error(err, "adding the webhook certificate expiry watcher")
		return 1
	}
	log.Info("starting", "cluster", settings.AKOSettings.ClusterName, "controller", settings.ControllerSettings.ControllerHost, "namespace", *namespace)
	if err := op.Manager.Start(ctx); err != nil {
		log.Error(err, "manager stopped")
		return 1
	}
	return 0
}
