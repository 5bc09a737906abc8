package model

import (
	"fmt"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/config"
)

// BenchmarkPlanL7 plans 5,000 Ingresses of 3 paths each, half with TLS, on
// LARGE shards: what every L7 shard sync does first (the Restart and
// L7Ingresses benchmarks' sizes).
func BenchmarkPlanL7(b *testing.B) {
	s := settings(func(s *config.Settings) { s.L7Settings.ShardVSSize = "LARGE" })
	var ings []L7Ingress
	for i := range 5000 {
		ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns-%d", i%50), Name: fmt.Sprintf("ing-%d", i)}}
		host := fmt.Sprintf("h%d.example.com", i)
		r := networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
		for _, p := range []string{"/a", "/b", "/c"} {
			r.HTTP.Paths = append(r.HTTP.Paths, networkingv1.HTTPIngressPath{Path: p, PathType: ptr.To(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web" + p[1:], Port: networkingv1.ServiceBackendPort{Number: 80}}}})
		}
		ing.Spec.Rules = append(ing.Spec.Rules, r)
		if i%2 == 0 {
			ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: fmt.Sprintf("tls-%d", i)}}
		}
		ings = append(ings, L7Ingress{Ingress: ing})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		PlanL7(s, ings)
	}
}
