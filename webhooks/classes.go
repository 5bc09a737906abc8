package webhooks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"
	admv1 "k8s.io/api/admissionregistration/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/cluster"
	"github.com/vipgate/vipgate/config"
)

// ClassSync keeps the Ingress webhooks' match condition (IngressConditionName
// on HookValidateIngress, and on HookMutateIngress) equal to what
// IngressRouting computes from the cluster's IngressClasses, so an
// IngressClass of vipgate's created after install (e.g. one whose parameters
// name an AviInfraSetting) is validated and gets its cleanup finalizer at
// create, and an Ingress of another controller's class is never sent to
// vipgate. The mutating hook only saves a write (IngressFinalizerReconciler
// adds the finalizer where it did not run): a mutating configuration that is
// missing, lacks the hook or may not be read is left as it is.
//
// It writes one field of one webhook of the configuration vipgate owns, with
// a strategic merge patch keyed by webhook and condition name: caBundle
// (cert-manager's cainjector, or certs.Manager), rules, other webhooks and
// conditions someone else added stay as they are. It is idempotent (no write
// when the condition is current) and runs on the leader only: the
// configuration is cluster-wide, and one writer at a time keeps replicas from
// undoing each other while their caches differ.
//
// It reads the configuration by name from the API server (the chart grants
// get and patch on that one object, never list or watch), so a configuration
// reset by an upgrade (helm upgrade and kubectl apply put the chart's
// condition back) is seen at the next periodic pass rather than at once: one
// GET every Resync is the price of not watching webhook configurations
// cluster-wide. A rollout repairs it at once (the new leader's first pass).
type ClassSync struct {
	// Classes reads IngressClasses: the manager's cache.
	Classes client.Reader
	// Informers delivers IngressClass changes (the manager's cache).
	Informers cache.Informers
	// API reads the configuration; Writer patches it. Both go to the API server.
	API    client.Reader
	Writer client.Writer
	// Settings decide whether Ingresses without a class are routed (L7Settings.defaultIngController).
	Settings *config.Settings
	// ConfigName is the validating configuration; ValidatingConfigName when empty.
	ConfigName string
	// MutatingConfig is the mutating configuration; MutatingConfigName when empty.
	MutatingConfig string
	// Resync is the time between passes without a class change (repairs a
	// configuration an upgrade reset); DefaultClassResync when zero.
	Resync time.Duration
	// Log receives each change of the condition and failures.
	Log logr.Logger
	// Synced, when set, is told the outcome of each pass (tests).
	Synced func(changed bool, err error)
}

// DefaultClassResync bounds how long a configuration reset by an upgrade
// routes only the chart's class.
const DefaultClassResync = 15 * time.Second

// NeedLeaderElection is true: one writer of the cluster-wide configuration.
func (s *ClassSync) NeedLeaderElection() bool { return true }

func (s *ClassSync) mutatingName() string {
	if s.MutatingConfig == "" {
		return MutatingConfigName
	}
	return s.MutatingConfig
}

func (s *ClassSync) configName() string {
	if s.ConfigName == "" {
		return ValidatingConfigName
	}
	return s.ConfigName
}

// ErrNoIngressWebhook means the configuration has no webhook named
// HookValidateIngress: there is nothing to keep current.
var ErrNoIngressWebhook = errors.New("no Ingress webhook " + HookValidateIngress)

// Start runs passes at start, on every IngressClass change and every Resync,
// until ctx ends (controller-runtime Runnable). A failed pass is retried with
// a growing delay; it never stops the manager.
func (s *ClassSync) Start(ctx context.Context) error {
	nudge := make(chan struct{}, 1)
	poke := func() {
		select {
		case nudge <- struct{}{}:
		default:
		}
	}
	inf, err := s.Informers.GetInformer(ctx, &networkingv1.IngressClass{})
	if err != nil {
		return fmt.Errorf("watching IngressClasses: %w", err)
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	})
	if err != nil {
		return fmt.Errorf("watching IngressClasses: %w", err)
	}
	defer func() { _ = inf.RemoveEventHandler(reg) }()
	if !toolscache.WaitForCacheSync(ctx.Done(), reg.HasSynced) {
		return nil
	}
	resync := s.Resync
	if resync == 0 {
		resync = DefaultClassResync
	}
	retry := time.Second
	for {
		wait := resync
		changed, err := s.Sync(ctx)
		if s.Synced != nil {
			s.Synced(changed, err)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			s.Log.Error(err, "keeping the Ingress webhook's classes current failed; retrying", "in", retry)
			wait, retry = min(retry, resync), min(retry*2, resync)
		default:
			retry = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-nudge:
			t.Stop()
		case <-t.C:
		}
	}
}

// Sync does one pass: it reports whether it patched the configuration. A
// configuration that does not exist (yet) is not an error: the chart may not
// have created it, and the next pass looks again.
func (s *ClassSync) Sync(ctx context.Context) (bool, error) {
	classes, err := cluster.IngressClasses(ctx, s.Classes)
	if err != nil {
		return false, fmt.Errorf("listing IngressClasses: %w", err)
	}
	names, classless := IngressRouting(classes, s.Settings)
	want := IngressCondition(names, classless)

	mutated, err := s.syncMutating(ctx, want)
	if err != nil {
		return false, err
	}
	var cfg admv1.ValidatingWebhookConfiguration
	if err := s.API.Get(ctx, types.NamespacedName{Name: s.configName()}, &cfg); err != nil {
		if apierrors.IsNotFound(err) {
			return mutated, nil
		}
		return mutated, fmt.Errorf("reading ValidatingWebhookConfiguration %s: %w", s.configName(), err)
	}
	i := slices.IndexFunc(cfg.Webhooks, func(h admv1.ValidatingWebhook) bool { return h.Name == HookValidateIngress })
	if i < 0 {
		return mutated, fmt.Errorf("ValidatingWebhookConfiguration %s: %w", s.configName(), ErrNoIngressWebhook)
	}
	orig := cfg.DeepCopy()
	if !setCondition(&cfg.Webhooks[i].MatchConditions, want) {
		return mutated, nil
	}
	if err := s.Writer.Patch(ctx, &cfg, client.StrategicMergeFrom(orig)); err != nil {
		return mutated, fmt.Errorf("patching the match condition of %s in ValidatingWebhookConfiguration %s: %w", HookValidateIngress, s.configName(), err)
	}
	s.Log.Info("Ingress webhook now routes vipgate's IngressClasses", "classes", names, "withoutClass", classless, "expression", want.Expression)
	return true, nil
}

// syncMutating sets want on HookMutateIngress; it reports whether it
// patched. Only a failed patch, or a read that failed for another reason
// than absence or permission, is an error (retried): a chart without the
// permission (cert-manager issues the certificates and followIngressClasses
// is off) or without the hook leaves it to the finalizer controller.
func (s *ClassSync) syncMutating(ctx context.Context, want admv1.MatchCondition) (bool, error) {
	var cfg admv1.MutatingWebhookConfiguration
	if err := s.API.Get(ctx, types.NamespacedName{Name: s.mutatingName()}, &cfg); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading MutatingWebhookConfiguration %s: %w", s.mutatingName(), err)
	}
	i := slices.IndexFunc(cfg.Webhooks, func(h admv1.MutatingWebhook) bool { return h.Name == HookMutateIngress })
	if i < 0 {
		return false, nil
	}
	orig := cfg.DeepCopy()
	if !setCondition(&cfg.Webhooks[i].MatchConditions, want) {
		return false, nil
	}
	if err := s.Writer.Patch(ctx, &cfg, client.StrategicMergeFrom(orig)); err != nil {
		return false, fmt.Errorf("patching the match condition of %s in MutatingWebhookConfiguration %s: %w", HookMutateIngress, s.mutatingName(), err)
	}
	s.Log.Info("Ingress mutating webhook now routes vipgate's IngressClasses", "expression", want.Expression)
	return true, nil
}

// setCondition puts want in place of the condition of the same name (or
// appends it), leaving any other condition alone; it reports whether conds changed.
func setCondition(conds *[]admv1.MatchCondition, want admv1.MatchCondition) bool {
	for j := range *conds {
		if (*conds)[j].Name == want.Name {
			if (*conds)[j] == want {
				return false
			}
			(*conds)[j] = want
			return true
		}
	}
	*conds = append(*conds, want)
	return true
}
