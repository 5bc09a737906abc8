package webhooks

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	admv1 "k8s.io/api/admissionregistration/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
)

func TestIngressCondition(t *testing.T) {
	for _, tc := range []struct {
		name      string
		classes   []string
		classless bool
		want      string
	}{
		{"nothing routed", nil, false, `false`},
		{"class-less only", nil, true, `!has(object.spec.ingressClassName)`},
		{"one class", []string{"avi-lb"}, false, `has(object.spec.ingressClassName) && object.spec.ingressClassName in ['avi-lb']`},
		{"classes and class-less", []string{"avi-edge", "avi-lb"}, true, `!has(object.spec.ingressClassName) || object.spec.ingressClassName in ['avi-edge', 'avi-lb']`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := IngressCondition(tc.classes, tc.classless)
			if got.Name != IngressConditionName || got.Expression != tc.want {
				t.Errorf("got %+v, want %s: %s", got, IngressConditionName, tc.want)
			}
		})
	}
}

func TestServiceMatchConditionsFollowOwnership(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    ConfigOptions
		want string
	}{
		{"class only", ConfigOptions{}, `has(object.spec.loadBalancerClass) && object.spec.loadBalancerClass == 'ako.vmware.com/avi-lb'`},
		{"defaultLBController", ConfigOptions{DefaultLBController: true}, `!has(object.spec.loadBalancerClass) || object.spec.loadBalancerClass == 'ako.vmware.com/avi-lb'`},
		{"layer7Only", ConfigOptions{DefaultLBController: true, Layer7Only: true}, `false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conds := tc.o.ServiceMatchConditions()
			if len(conds) != 2 || conds[1].Name != "owned-by-vipgate" || conds[1].Expression != tc.want {
				t.Errorf("got %+v, want owned-by-vipgate: %s", conds, tc.want)
			}
		})
	}
}

func class(name, controller string, isDefault bool) networkingv1.IngressClass {
	c := networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.IngressClassSpec{Controller: controller}}
	if isDefault {
		c.Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}
	}
	return c
}

func settings(defaultIng bool) *config.Settings {
	s := config.Defaults()
	s.L7Settings.DefaultIngController = config.Bool(defaultIng)
	return &s
}

func TestIngressRouting(t *testing.T) {
	ours, oursDefault := class("avi-lb", LBClass, false), class("avi-lb", LBClass, true)
	edge := class("avi-edge", LBClass, false)
	nginxDefault := class("nginx", "k8s.io/ingress-nginx", true)
	for _, tc := range []struct {
		name          string
		classes       []networkingv1.IngressClass
		s             *config.Settings
		wantNames     []string
		wantClassless bool
	}{
		{"no class at all", nil, settings(true), nil, false},
		{"another controller's default class", []networkingv1.IngressClass{nginxDefault}, settings(true), nil, false},
		{"ours, not the default", []networkingv1.IngressClass{ours, edge, nginxDefault}, settings(true), []string{"avi-edge", "avi-lb"}, false},
		{"ours is the default", []networkingv1.IngressClass{oursDefault, edge}, settings(true), []string{"avi-edge", "avi-lb"}, true},
		{"ours is the default, defaultIngController off", []networkingv1.IngressClass{oursDefault, edge}, settings(false), []string{"avi-edge", "avi-lb"}, false},
		{"no settings: AKO's default (on)", []networkingv1.IngressClass{oursDefault}, nil, []string{"avi-lb"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names, classless := IngressRouting(tc.classes, tc.s)
			if !slices.Equal(names, tc.wantNames) || classless != tc.wantClassless {
				t.Errorf("got %v class-less=%v, want %v class-less=%v", names, classless, tc.wantNames, tc.wantClassless)
			}
		})
	}
}

func scheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{admv1.AddToScheme, networkingv1.AddToScheme, v1beta1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// installed is a configuration as the chart (or envtest) leaves it, with a
// caBundle injected and a condition a user added to the Ingress webhook.
func installed() *admv1.ValidatingWebhookConfiguration {
	_, v := Configurations(ConfigOptions{Namespace: "vipgate-system", ServiceName: "vipgate-webhook", DefaultLBController: true,
		IngressClasses: []string{"avi-lb"}, DefaultIngressClass: true, CABundle: []byte("ca-1")})
	for i := range v.Webhooks {
		if v.Webhooks[i].Name == HookValidateIngress {
			v.Webhooks[i].MatchConditions = append(v.Webhooks[i].MatchConditions, admv1.MatchCondition{Name: "not-legacy", Expression: "!has(object.metadata.labels) || !('legacy' in object.metadata.labels)"})
		}
	}
	return v
}

func hook(t *testing.T, v *admv1.ValidatingWebhookConfiguration, name string) admv1.ValidatingWebhook {
	t.Helper()
	for _, h := range v.Webhooks {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no webhook %s", name)
	return admv1.ValidatingWebhook{}
}

func TestClassSync(t *testing.T) {
	ctx := context.Background()
	edge := class("avi-edge", LBClass, false)
	edge.Spec.Parameters = &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("ako.vmware.com"), Kind: "AviInfraSetting", Name: "edge"}
	classes := []client.Object{ptr.To(class("avi-lb", LBClass, true)), &edge, ptr.To(class("nginx", "k8s.io/ingress-nginx", false))}
	for _, tc := range []struct {
		name    string
		classes []client.Object
		s       *config.Settings
		want    string
	}{
		{"a class of vipgate's created after install", classes, settings(true),
			`!has(object.spec.ingressClassName) || object.spec.ingressClassName in ['avi-edge', 'avi-lb']`},
		{"defaultIngController off", classes, settings(false),
			`has(object.spec.ingressClassName) && object.spec.ingressClassName in ['avi-edge', 'avi-lb']`},
		{"no class of vipgate's", classes[2:], settings(true), `false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := installed()
			// The cainjector writes a new caBundle between the pass's read and its
			// patch: the patch must not put the old one back.
			var patches int
			var c client.Client
			c = fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(append(slices.Clone(tc.classes), before.DeepCopy())...).
				WithInterceptorFuncs(interceptor.Funcs{Patch: func(ctx context.Context, cl client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
					patches++
					var live admv1.ValidatingWebhookConfiguration
					if err := cl.Get(ctx, types.NamespacedName{Name: ValidatingConfigName}, &live); err != nil {
						return err
					}
					for i := range live.Webhooks {
						live.Webhooks[i].ClientConfig.CABundle = []byte("ca-2")
					}
					if err := cl.Update(ctx, &live); err != nil {
						return err
					}
					return cl.Patch(ctx, obj, patch, opts...)
				}}).Build()
			sync := &ClassSync{Classes: c, API: c, Writer: c, Settings: tc.s}
			changed, err := sync.Sync(ctx)
			if err != nil || !changed {
				t.Fatalf("Sync = %v, %v; want a change", changed, err)
			}
			var after admv1.ValidatingWebhookConfiguration
			if err := c.Get(ctx, types.NamespacedName{Name: ValidatingConfigName}, &after); err != nil {
				t.Fatal(err)
			}
			ing := hook(t, &after, HookValidateIngress)
			// Only the class condition changes; the others (the installed
			// skip conditions and a user's own) stay as they were.
			wantConds := append([]admv1.MatchCondition{{Name: IngressConditionName, Expression: tc.want}}, hook(t, before, HookValidateIngress).MatchConditions[1:]...)
			if !reflect.DeepEqual(ing.MatchConditions, wantConds) {
				t.Errorf("Ingress webhook conditions:\n got %+v\nwant %+v", ing.MatchConditions, wantConds)
			}
			for _, h := range after.Webhooks {
				if string(h.ClientConfig.CABundle) != "ca-2" {
					t.Errorf("%s: caBundle %q, want the injector's ca-2", h.Name, h.ClientConfig.CABundle)
				}
				if h.Name == HookValidateIngress {
					continue
				}
				if old := hook(t, before, h.Name); !reflect.DeepEqual(h.MatchConditions, old.MatchConditions) || !reflect.DeepEqual(h.Rules, old.Rules) {
					t.Errorf("%s changed: %+v", h.Name, h)
				}
			}
			// Idempotent: a second pass writes nothing.
			changed, err = sync.Sync(ctx)
			if err != nil || changed || patches != 1 {
				t.Errorf("second Sync = %v, %v after %d patches; want no change and one patch in all", changed, err, patches)
			}
		})
	}
}

func TestClassSyncWithoutConfiguration(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(scheme(t)).Build()
	if changed, err := (&ClassSync{Classes: c, API: c, Writer: c}).Sync(ctx); changed || err != nil {
		t.Errorf("no configuration yet: Sync = %v, %v; want nothing done, no error", changed, err)
	}
	v := installed()
	v.Webhooks = slices.DeleteFunc(v.Webhooks, func(h admv1.ValidatingWebhook) bool { return h.Name == HookValidateIngress })
	c = fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(v).Build()
	_, err := (&ClassSync{Classes: c, API: c, Writer: c}).Sync(ctx)
	if !errors.Is(err, ErrNoIngressWebhook) || err.Error() != "ValidatingWebhookConfiguration vipgate-validating: no Ingress webhook vingress.vipgate.ako.vmware.com" {
		t.Errorf("configuration without the Ingress webhook: err = %v", err)
	}
}

// failingReader fails every read, as a cache past the request's deadline does.
type failingReader struct{ client.Reader }

func (failingReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("timed out waiting for cache to be synced")
}

func TestOwnsIngress(t *testing.T) {
	ctx := context.Background()
	cached := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(ptr.To(class("avi-lb", LBClass, false)), ptr.To(class("nginx", "k8s.io/ingress-nginx", true))).Build()
	// The API server also has a class the cache has not seen yet.
	api := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(ptr.To(class("avi-lb", LBClass, false)), ptr.To(class("nginx", "k8s.io/ingress-nginx", true)),
		ptr.To(class("avi-new", LBClass, false))).Build()
	ing := func(class string) *networkingv1.Ingress {
		i := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}
		if class != "" {
			i.Spec.IngressClassName = ptr.To(class)
		}
		return i
	}
	const unreadable = "vipgate could not tell whether this Ingress is its own (reading IngressClasses: timed out waiting for cache to be synced); admitted without its checks: if it is vipgate's, problems are reported as Events on it"
	for _, tc := range []struct {
		name        string
		classes     client.Reader
		api         client.Reader
		ing         *networkingv1.Ingress
		wantOwned   bool
		wantWarning string
	}{
		{"no reader: judge what is routed", nil, nil, ing("nginx"), true, ""},
		{"class of vipgate's", cached, api, ing("avi-lb"), true, ""},
		{"another controller's class", cached, api, ing("nginx"), false, ""},
		{"class not known anywhere", cached, api, ing("gone"), false, ""},
		{"class-less, another controller's default", cached, api, ing(""), false, ""},
		{"class not cached yet, confirmed by the API server", cached, api, ing("avi-new"), true, ""},
		{"cache alone", cached, nil, ing("avi-new"), false, ""},
		{"cache fails, API server answers", failingReader{}, api, ing("avi-lb"), true, ""},
		{"cache says no, API server fails", cached, failingReader{}, ing("nginx"), false, unreadable},
		{"nothing answers", failingReader{}, failingReader{}, ing("avi-lb"), false, unreadable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &Options{Settings: settings(true), Classes: tc.classes, ClassesAPI: tc.api}
			owned, warning := o.ownsIngress(ctx, tc.ing)
			if owned != tc.wantOwned || warning != tc.wantWarning {
				t.Errorf("got owned=%v warning %q, want owned=%v warning %q", owned, warning, tc.wantOwned, tc.wantWarning)
			}
			// An Ingress vipgate does not own is admitted untouched (the rule
			// book, with no lookups here, is never reached).
			if !tc.wantOwned {
				warnings, err := (&ingressValidator{o}).ValidateCreate(ctx, tc.ing)
				if err != nil || (tc.wantWarning == "") != (len(warnings) == 0) {
					t.Errorf("ValidateCreate = %v, %v", warnings, err)
				}
			}
		})
	}
}

// startSync runs s.Start until the test ends and returns the outcome of each pass.
func startSync(t *testing.T, s *ClassSync) <-chan error {
	t.Helper()
	passes := make(chan error, 1000)
	s.Synced = func(_ bool, err error) { passes <- err }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Start returned %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Start did not return after its context ended")
		}
	})
	return passes
}

// nextPass waits for one pass and returns its outcome.
func nextPass(t *testing.T, passes <-chan error) error {
	t.Helper()
	select {
	case err := <-passes:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no pass within 10s")
		return nil
	}
}

func ingressExpr(t *testing.T, c client.Reader) string {
	t.Helper()
	var v admv1.ValidatingWebhookConfiguration
	if err := c.Get(context.Background(), types.NamespacedName{Name: ValidatingConfigName}, &v); err != nil {
		t.Fatal(err)
	}
	return hook(t, &v, HookValidateIngress).MatchConditions[0].Expression
}

// A class event starts a pass at once, without waiting for the resync.
func TestClassSyncFollowsClassEvents(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(installed(), ptr.To(class("avi-lb", LBClass, false))).Build()
	infs := &informertest.FakeInformers{Scheme: scheme(t)}
	passes := startSync(t, &ClassSync{Classes: c, Informers: infs, API: c, Writer: c, Settings: settings(true), Resync: time.Hour})
	if err := nextPass(t, passes); err != nil {
		t.Fatal(err)
	}
	if got, want := ingressExpr(t, c), `has(object.spec.ingressClassName) && object.spec.ingressClassName in ['avi-lb']`; got != want {
		t.Errorf("after the first pass: %s, want %s", got, want)
	}
	edge := class("avi-edge", LBClass, true)
	if err := c.Create(context.Background(), &edge); err != nil {
		t.Fatal(err)
	}
	inf, err := infs.FakeInformerFor(context.Background(), &networkingv1.IngressClass{})
	if err != nil {
		t.Fatal(err)
	}
	inf.Add(&edge)
	if err := nextPass(t, passes); err != nil {
		t.Fatal(err)
	}
	if got, want := ingressExpr(t, c), `!has(object.spec.ingressClassName) || object.spec.ingressClassName in ['avi-edge', 'avi-lb']`; got != want {
		t.Errorf("after the class event: %s, want %s", got, want)
	}
}

// A condition an upgrade put back is repaired at the next resync, and a pass
// that fails is retried.
func TestClassSyncRepairsAndRetries(t *testing.T) {
	ctx := context.Background()
	failures := 2
	c := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(installed(), ptr.To(class("avi-lb", LBClass, true)), ptr.To(class("avi-edge", LBClass, false))).
		WithInterceptorFuncs(interceptor.Funcs{Get: func(ctx context.Context, cl client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*admv1.ValidatingWebhookConfiguration); ok && failures > 0 {
				failures--
				return errors.New("connection refused")
			}
			return cl.Get(ctx, key, obj, opts...)
		}}).Build()
	passes := startSync(t, &ClassSync{Classes: c, Informers: &informertest.FakeInformers{Scheme: scheme(t)}, API: c, Writer: c, Settings: settings(true), Resync: 20 * time.Millisecond})
	for i := range 2 {
		if err := nextPass(t, passes); err == nil || err.Error() != "reading ValidatingWebhookConfiguration vipgate-validating: connection refused" {
			t.Fatalf("pass %d: err = %v, want the read failure", i, err)
		}
	}
	if err := nextPass(t, passes); err != nil {
		t.Fatalf("pass after the failures: %v", err)
	}
	want := `!has(object.spec.ingressClassName) || object.spec.ingressClassName in ['avi-edge', 'avi-lb']`
	if got := ingressExpr(t, c); got != want {
		t.Fatalf("after retrying: %s, want %s", got, want)
	}
	// helm upgrade puts the chart's condition back.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var v admv1.ValidatingWebhookConfiguration
		if err := c.Get(ctx, types.NamespacedName{Name: ValidatingConfigName}, &v); err != nil {
			return err
		}
		for i := range v.Webhooks {
			if v.Webhooks[i].Name == HookValidateIngress {
				v.Webhooks[i].MatchConditions[0] = IngressCondition([]string{"avi-lb"}, true)
			}
		}
		return c.Update(ctx, &v)
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for ingressExpr(t, c) != want {
		if time.Now().After(deadline) {
			t.Fatalf("the reset condition was not repaired: %s", ingressExpr(t, c))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClassSyncMutatingHook: the Ingress mutating hook's class condition
// follows the classes as the validating hook's does, its other condition
// and the Service hook stay as they are; a mutating configuration that may
// not be read, or lacks the hook, leaves the validating hook's sync alone.
func TestClassSyncMutatingHook(t *testing.T) {
	ctx := context.Background()
	edge := class("avi-edge", LBClass, false)
	classes := []client.Object{ptr.To(class("avi-lb", LBClass, true)), &edge}
	want := `!has(object.spec.ingressClassName) || object.spec.ingressClassName in ['avi-edge', 'avi-lb']`
	installedMutating := func() *admv1.MutatingWebhookConfiguration {
		m, _ := Configurations(ConfigOptions{Namespace: "vipgate-system", ServiceName: "vipgate-webhook", DefaultLBController: true,
			IngressClasses: []string{"avi-lb"}, DefaultIngressClass: true, CABundle: []byte("ca-1")})
		return m
	}
	mutatingHook := func(m *admv1.MutatingWebhookConfiguration, name string) *admv1.MutatingWebhook {
		for i := range m.Webhooks {
			if m.Webhooks[i].Name == name {
				return &m.Webhooks[i]
			}
		}
		return nil
	}
	t.Run("followed", func(t *testing.T) {
		before := installedMutating()
		c := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(append(slices.Clone(classes), installed(), before.DeepCopy())...).Build()
		sync := &ClassSync{Classes: c, API: c, Writer: c, Settings: settings(true)}
		if changed, err := sync.Sync(ctx); err != nil || !changed {
			t.Fatalf("Sync = %v, %v; want a change", changed, err)
		}
		var after admv1.MutatingWebhookConfiguration
		if err := c.Get(ctx, types.NamespacedName{Name: MutatingConfigName}, &after); err != nil {
			t.Fatal(err)
		}
		wantConds := slices.Clone(mutatingHook(before, HookMutateIngress).MatchConditions)
		for i := range wantConds {
			if wantConds[i].Name == IngressConditionName {
				wantConds[i].Expression = want
			}
		}
		if got := mutatingHook(&after, HookMutateIngress).MatchConditions; !reflect.DeepEqual(got, wantConds) {
			t.Errorf("Ingress mutating hook conditions:\n got %+v\nwant %+v", got, wantConds)
		}
		if got, old := mutatingHook(&after, HookMutateService), mutatingHook(before, HookMutateService); !reflect.DeepEqual(got.MatchConditions, old.MatchConditions) {
			t.Errorf("Service mutating hook changed: %+v", got.MatchConditions)
		}
		if changed, err := sync.Sync(ctx); err != nil || changed {
			t.Errorf("second Sync = %v, %v; want no change", changed, err)
		}
	})
	t.Run("forbidden or without the hook", func(t *testing.T) {
		noHook := installedMutating()
		noHook.Webhooks = slices.DeleteFunc(noHook.Webhooks, func(h admv1.MutatingWebhook) bool { return h.Name == HookMutateIngress })
		for _, m := range []*admv1.MutatingWebhookConfiguration{installedMutating(), noHook} {
			c := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(append(slices.Clone(classes), installed(), m)...).
				WithInterceptorFuncs(interceptor.Funcs{Get: func(ctx context.Context, cl client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					if _, ok := obj.(*admv1.MutatingWebhookConfiguration); ok && len(m.Webhooks) == 2 {
						return apierrors.NewForbidden(schema.GroupResource{Group: "admissionregistration.k8s.io", Resource: "mutatingwebhookconfigurations"}, key.Name, errors.New("no permission"))
					}
					return cl.Get(ctx, key, obj, opts...)
				}}).Build()
			if changed, err := (&ClassSync{Classes: c, API: c, Writer: c, Settings: settings(true)}).Sync(ctx); err != nil || !changed {
				t.Fatalf("Sync = %v, %v; want the validating hook patched, no error", changed, err)
			}
			var v admv1.ValidatingWebhookConfiguration
			if err := c.Get(ctx, types.NamespacedName{Name: ValidatingConfigName}, &v); err != nil {
				t.Fatal(err)
			}
			if got := hook(t, &v, HookValidateIngress).MatchConditions[0].Expression; got != want {
				t.Errorf("validating hook condition = %s, want %s", got, want)
			}
		}
	})
}
