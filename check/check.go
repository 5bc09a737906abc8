// Package check validates Kubernetes manifests offline with vipgate's rule
// book, the same functions the admission webhooks call (package rules), so a
// CI pipeline refuses what `kubectl apply` would be refused, with the same
// message, before anything reaches a cluster.
//
// The cluster the webhook would read from its caches is the manifest set
// itself (Set): each Service, Ingress and AviInfraSetting is checked as a
// create against all the other objects of the set. The controller is an
// inventory file (InventoryFile) that `vipgate inventory export` wrote from
// a live controller; without one only the checks that need no controller run,
// with the warning the webhooks print when their inventory is not loaded.
package check

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// The group kinds the webhooks name in their errors (webhooks' serviceGK,
// ingressGK, infraGK): apierrors.NewInvalid prints them.
var (
	ServiceGK         = schema.GroupKind{Kind: "Service"}
	IngressGK         = schema.GroupKind{Group: networkingv1.GroupName, Kind: "Ingress"}
	AviInfraSettingGK = schema.GroupKind{Group: v1beta1.GroupVersion.Group, Kind: "AviInfraSetting"}
)

// Options are the inputs besides the manifests.
type Options struct {
	// Settings are the operator's; nil means AKO's defaults.
	Settings *config.Settings
	// Inventory is the controller snapshot; nil runs only the checks that
	// need no controller, with rules.WarnInventoryNotLoaded once.
	Inventory *inventory.Snapshot
	// IngressClasses are classes assumed to exist in the cluster besides
	// those of the set, normally vipgate's own (see VipgateClasses).
	IngressClasses []networkingv1.IngressClass
	// Now judges certificate expiry; zero means time.Now().
	Now time.Time
}

// VipgateClasses returns IngressClasses of controller ako.vmware.com/avi-lb
// named names; the one named def (if any) carries is-default-class, as the
// chart's class does when L7Settings.defaultIngController is on.
func VipgateClasses(names []string, def string) []networkingv1.IngressClass {
	var out []networkingv1.IngressClass
	for _, n := range names {
		c := networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Controller: ownership.LBClass}}
		c.Name = n
		if n == def {
			c.Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}
		}
		out = append(out, c)
	}
	return out
}

// Verdict is what check says about one object of the set.
type Verdict struct {
	Object Object
	// Skipped says why vipgate would not judge the object ("" when checked).
	Skipped string
	// Warnings are the rule book's, as kubectl would print them.
	Warnings []string
	// Err is the webhook's refusal, apierrors.NewInvalid of the rule book's
	// errors; nil when admitted.
	Err error
}

// Report is the outcome of a check.
type Report struct {
	// Warnings concern the whole run: the inventory was not loaded, the
	// settings do not match the controller.
	Warnings []string
	// Verdicts of the Services, Ingresses and AviInfraSettings, in input order.
	Verdicts []Verdict
	// Ignored are the objects of kinds check does not read (Deployments,
	// or an Ingress of an API version the cluster does not serve).
	Ignored []Object
}

// Checked counts the objects judged (refused or admitted).
func (r *Report) Checked() int {
	n := 0
	for _, v := range r.Verdicts {
		if v.Skipped == "" {
			n++
		}
	}
	return n
}

// Refused counts refused objects.
func (r *Report) Refused() int {
	n := 0
	for _, v := range r.Verdicts {
		if v.Err != nil {
			n++
		}
	}
	return n
}

// Skipped counts objects vipgate would not judge.
func (r *Report) Skipped() int { return len(r.Verdicts) - r.Checked() }

// WarningCount counts warning lines, the run's and the objects'.
func (r *Report) WarningCount() int {
	n := len(r.Warnings)
	for _, v := range r.Verdicts {
		n += len(v.Warnings)
	}
	return n
}

// Run checks every Service, Ingress and AviInfraSetting of objs as a create
// against all the other objects of objs, with the webhooks' rules and
// ownership decisions.
func Run(ctx context.Context, objs []Object, o Options) *Report {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	s := o.Settings
	if s == nil {
		d := config.Defaults()
		s = &d
	}
	set := NewSet(objs, o.IngressClasses, s)
	var src inventory.Source
	if o.Inventory != nil {
		src = fixed{o.Inventory}
	}
	// Staleness bound 0: the file is judged as it is, whatever its age; the
	// caller prints the age and may refuse an old file.
	env := rules.NewEnv(ctx, s, src, set, 0, now)
	rep := &Report{}
	if env.Inventory == nil {
		rep.Warnings = append(rep.Warnings, rules.WarnInventoryNotLoaded)
	}
	for _, e := range rules.ValidateNetworkSettings(env).Errors {
		rep.Warnings = append(rep.Warnings, "the settings do not match the controller: "+e.Error())
	}

	// AviInfraSettings first: the status their reconciler would write is what
	// Services selecting them read (the reconciler waits for an inventory).
	infra := map[string]rules.Result{}
	for name, ais := range set.infra {
		res := rules.ValidateAviInfraSetting(ais, env)
		infra[name] = res
		switch {
		case env.Inventory == nil:
		case res.Allowed():
			set.setInfraStatus(name, v1beta1.AviInfraSettingStatus{Status: v1beta1.StatusAccepted})
		default:
			set.setInfraStatus(name, v1beta1.AviInfraSettingStatus{Status: v1beta1.StatusRejected, Error: res.Err().Error()})
		}
	}

	services := map[string]*corev1.Service{}
	for _, svc := range set.services {
		services[svc.Namespace+"/"+svc.Name] = svc
	}
	ingresses := map[string]*networkingv1.Ingress{}
	for _, ing := range set.ingresses {
		ingresses[ing.Namespace+"/"+ing.Name] = ing
	}
	for _, obj := range objs {
		v := Verdict{Object: obj}
		var res rules.Result
		switch obj.Obj.(type) {
		case *corev1.Service:
			svc := services[obj.Namespace+"/"+obj.Name]
			if v.Skipped = skipService(svc, set); v.Skipped == "" {
				res = rules.ValidateService(svc, nil, env)
				v.Err = invalid(ServiceGK, svc.Name, res)
			}
		case *networkingv1.Ingress:
			ing := ingresses[obj.Namespace+"/"+obj.Name]
			if v.Skipped = skipIngress(ing, set); v.Skipped == "" {
				res = rules.ValidateIngress(ing, nil, env)
				v.Err = invalid(IngressGK, ing.Name, res)
			}
		case *v1beta1.AviInfraSetting:
			res = infra[obj.Name]
			v.Err = invalid(AviInfraSettingGK, obj.Name, res)
		default:
			var ok bool
			if res, v.Err, ok = judgeRule(obj, set, env); !ok {
				if obj.Obj == nil {
					rep.Ignored = append(rep.Ignored, obj)
				}
				continue
			}
		}
		// The run's own warning is printed once, not once per object.
		v.Warnings = slices.DeleteFunc(slices.Clone(res.Warnings), func(w string) bool {
			return w == rules.WarnInventoryNotLoaded
		})
		rep.Verdicts = append(rep.Verdicts, v)
	}
	return rep
}

// invalid is the webhook's refusal (webhooks' verdict), nil when allowed.
func invalid(gk schema.GroupKind, name string, res rules.Result) error {
	if res.Allowed() {
		return nil
	}
	return apierrors.NewInvalid(gk, name, res.Errors)
}

// skipService says why vipgate would not judge svc (webhooks'
// serviceValidator: ownership.OwnsService, then namespace selection).
func skipService(svc *corev1.Service, set *Set) string {
	s := set.settings
	if !ownership.OwnsService(svc, s) {
		switch {
		case svc.Spec.Type != corev1.ServiceTypeLoadBalancer:
			t := svc.Spec.Type
			if t == "" {
				t = corev1.ServiceTypeClusterIP
			}
			return fmt.Sprintf("type %s, not LoadBalancer", t)
		case bool(s.AKOSettings.Layer7Only):
			return "AKOSettings.layer7Only is true: vipgate handles no Service"
		case svc.Spec.LoadBalancerClass != nil:
			return fmt.Sprintf("loadBalancerClass %s is another load balancer's", *svc.Spec.LoadBalancerClass)
		default:
			return "no loadBalancerClass, and L4Settings.defaultLBController is false"
		}
	}
	if !set.selected(svc.Namespace) {
		return notSelected(svc.Namespace, s)
	}
	return ""
}

// skipIngress says why vipgate would not judge ing (webhooks'
// ingressValidator: its class, then namespace selection).
func skipIngress(ing *networkingv1.Ingress, set *Set) string {
	if set.ingressClass(ing) == nil {
		if c := ing.Spec.IngressClassName; c != nil {
			return fmt.Sprintf("IngressClass %s is not vipgate's (not of controller %s in the set, nor named by --ingress-class)", *c, ownership.LBClass)
		}
		if !bool(set.settings.L7Settings.DefaultIngController) {
			return "no ingressClassName, and L7Settings.defaultIngController is false"
		}
		return "no ingressClassName, and no IngressClass of vipgate's is the default class"
	}
	if !set.selected(ing.Namespace) {
		return notSelected(ing.Namespace, set.settings)
	}
	return ""
}

func notSelected(ns string, s *config.Settings) string {
	if slices.Contains(s.AKOSettings.BlockedNamespaceList, ns) {
		return fmt.Sprintf("namespace %s is in AKOSettings.blockedNamespaceList", ns)
	}
	sel := s.AKOSettings.NamespaceSelector
	return fmt.Sprintf("namespace %s lacks the label %s=%s of AKOSettings.namespaceSelector (a Namespace not in the set has no labels)", ns, sel.LabelKey, sel.LabelValue)
}

// fixed is an inventory.Source of one snapshot.
type fixed struct{ s *inventory.Snapshot }

func (f fixed) Snapshot() *inventory.Snapshot { return f.s }

// Write prints the report as kubectl would print the webhook's answers:
// "Warning: <text>" for each warning and the exact apierrors text for each
// refusal, each line after the object's "path:line: ". The run's warnings
// come first and a summary line last. verbose also lists the objects
// admitted, skipped (with the reason) and ignored.
func (r *Report) Write(w io.Writer, verbose bool) error {
	ew := &errWriter{w: w}
	for _, msg := range r.Warnings {
		ew.printf("Warning: %s\n", msg)
	}
	if verbose {
		for _, o := range r.Ignored {
			ew.printf("%s: %s %s ignored: not a kind vipgate judges or reads\n", o.Source, o.APIVersion, o.Ref())
		}
	}
	for _, v := range r.Verdicts {
		src := v.Object.Source
		if v.Skipped != "" {
			if verbose {
				ew.printf("%s: %s skipped: %s\n", src, v.Object.Ref(), v.Skipped)
			}
			continue
		}
		for _, msg := range v.Warnings {
			ew.printf("%s: Warning: %s\n", src, msg)
		}
		if v.Err != nil {
			ew.printf("%s: %s\n", src, v.Err.Error())
		} else if verbose {
			ew.printf("%s: %s admitted\n", src, v.Object.Ref())
		}
	}
	ew.printf("%d objects checked, %d refused, %d warnings, %d skipped\n", r.Checked(), r.Refused(), r.WarningCount(), r.Skipped())
	return ew.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
