package ownership

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/config"
)

func TestNamespaceSelected(t *testing.T) {
	ns := func(name string, labels map[string]string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	plain := demoSettings()
	blocked := demoSettings()
	blocked.AKOSettings.BlockedNamespaceList = []string{"legacy"}
	selector := demoSettings()
	selector.AKOSettings.NamespaceSelector = config.NamespaceSelector{LabelKey: "lb", LabelValue: "avi"}
	selector.AKOSettings.BlockedNamespaceList = []string{"legacy"}
	tests := []struct {
		name string
		ns   *corev1.Namespace
		s    *config.Settings
		want bool
	}{
		{"no selector, no block list", ns("team-a", nil), plain, true},
		{"blocked by name", ns("legacy", nil), blocked, false},
		{"not blocked", ns("team-a", nil), blocked, true},
		{"label matches", ns("team-a", map[string]string{"lb": "avi"}), selector, true},
		{"label with another value", ns("team-a", map[string]string{"lb": "f5"}), selector, false},
		{"label missing", ns("team-a", nil), selector, false},
		{"blocked wins over a matching label", ns("legacy", map[string]string{"lb": "avi"}), selector, false},
		{"unknown namespace without selector", nil, plain, true},
		{"unknown namespace with selector", nil, selector, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NamespaceSelected(tt.ns, tt.s); got != tt.want {
				t.Errorf("NamespaceSelected = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTenantFor(t *testing.T) {
	s := demoSettings()
	s.ControllerSettings.TenantName = "admin"
	annotated := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Annotations: map[string]string{AnnTenant: "team-a"}}}
	if got := TenantFor(annotated, s); got != "team-a" {
		t.Errorf("annotated: %q", got)
	}
	if got := TenantFor(&corev1.Namespace{}, s); got != "admin" {
		t.Errorf("plain: %q", got)
	}
	if got := TenantFor(nil, s); got != "admin" {
		t.Errorf("nil: %q", got)
	}
}

func demoSettings(edit ...func(*config.Settings)) *config.Settings {
	s := config.Defaults()
	s.AKOSettings.ClusterName = "demo"
	for _, e := range edit {
		e(&s)
	}
	return &s
}

func TestOwnsService(t *testing.T) {
	svc := func(typ corev1.ServiceType, class *string) *corev1.Service {
		return &corev1.Service{Spec: corev1.ServiceSpec{Type: typ, LoadBalancerClass: class}}
	}
	avi, other := LBClass, "example.com/other"
	on, off := demoSettings(), demoSettings(func(s *config.Settings) { s.L4Settings.DefaultLBController = false })
	tests := []struct {
		name string
		svc  *corev1.Service
		s    *config.Settings
		want bool
	}{
		{"avi-lb class", svc(corev1.ServiceTypeLoadBalancer, &avi), off, true},
		{"other class", svc(corev1.ServiceTypeLoadBalancer, &other), on, false},
		{"no class, default controller", svc(corev1.ServiceTypeLoadBalancer, nil), on, true},
		{"no class, not default controller", svc(corev1.ServiceTypeLoadBalancer, nil), off, false},
		{"no class, no settings", svc(corev1.ServiceTypeLoadBalancer, nil), nil, false},
		{"ClusterIP", svc(corev1.ServiceTypeClusterIP, &avi), on, false},
		{"nil Service", nil, on, false},
		{"layer7Only", svc(corev1.ServiceTypeLoadBalancer, &avi), demoSettings(func(s *config.Settings) { s.AKOSettings.Layer7Only = true }), false},
	}
	for _, tt := range tests {
		if got := OwnsService(tt.svc, tt.s); got != tt.want {
			t.Errorf("%s: OwnsService = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestIngressClassFor(t *testing.T) {
	class := func(name, controller string, def bool) networkingv1.IngressClass {
		c := networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.IngressClassSpec{Controller: controller}}
		if def {
			c.Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}
		}
		return c
	}
	ing := func(class string) *networkingv1.Ingress {
		i := &networkingv1.Ingress{}
		if class != "" {
			i.Spec.IngressClassName = &class
		}
		return i
	}
	classes := []networkingv1.IngressClass{class("nginx", "k8s.io/ingress-nginx", true), class("b-avi", LBClass, true), class("a-avi", LBClass, true), class("plain", LBClass, false)}
	noDefault := demoSettings(func(s *config.Settings) { s.L7Settings.DefaultIngController = false })
	tests := []struct {
		name string
		ing  *networkingv1.Ingress
		s    *config.Settings
		want string
	}{
		{"named class of ours", ing("plain"), demoSettings(), "plain"},
		{"named class of another controller", ing("nginx"), demoSettings(), ""},
		{"named class that does not exist", ing("gone"), demoSettings(), ""},
		{"no class: our default class, first by name", ing(""), demoSettings(), "a-avi"},
		{"no class, defaultIngController off", ing(""), noDefault, ""},
	}
	for _, tt := range tests {
		got := ""
		if c := IngressClassFor(tt.ing, classes, tt.s); c != nil {
			got = c.Name
		}
		if got != tt.want {
			t.Errorf("%s: IngressClassFor = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := ClassNames(classes); !slices.Equal(got, []string{"a-avi", "b-avi", "plain"}) {
		t.Errorf("ClassNames = %v", got)
	}
}
