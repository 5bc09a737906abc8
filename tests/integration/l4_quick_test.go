package integration

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
)

func TestQuickL4(t *testing.T) {
	ctx := context.Background()
	sim, err := avisim.New(avisim.Options{Seed: avisim.DemoSeed(), Username: "admin", Password: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	sim.StartTLS()
	defer sim.Close()
	env.StartVipgate(t, operator.Options{Settings: harness.DemoSettings(t, sim.Host()), Credentials: config.Credentials{Username: "admin", Password: "admin"}, InventoryStaleAfter: time.Hour})
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "quick", Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	if err := env.Client.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(svc), svc)
		if len(svc.Status.LoadBalancer.Ingress) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("status: %+v conditions %+v finalizers %v class %v", svc.Status.LoadBalancer, svc.Status.Conditions, svc.Finalizers, *svc.Spec.LoadBalancerClass)
	t.Logf("counts: %v", sim.Counts())
	if len(svc.Status.LoadBalancer.Ingress) == 0 {
		t.Fatal("no VIP")
	}
}
