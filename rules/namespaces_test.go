package rules

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
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
