package integration

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/operator"
)

type staticInventory struct{ s *inventory.Snapshot }

func (s staticInventory) Snapshot() *inventory.Snapshot { return s.s }

func demoSnapshot() *inventory.Snapshot {
	s := &inventory.Snapshot{
		FetchedAt: time.Now(),
		Cloud:     inventory.Cloud{Name: "Default-Cloud", Type: inventory.CloudVCenter},
		Networks: map[string]*inventory.Network{
			"vip-net-a": {Name: "vip-net-a", UUID: "network-a", Subnets: []inventory.Subnet{{
				Prefix:    netip.MustParsePrefix("10.50.0.0/24"),
				VIPRanges: []inventory.Range{{Begin: netip.MustParseAddr("10.50.0.10"), End: netip.MustParseAddr("10.50.0.200")}},
			}}},
		},
		SEGroups: map[string]inventory.SEGroup{"Default-Group": {Name: "Default-Group"}},
		InUse:    map[netip.Addr]inventory.Holder{},
	}
	s.ComputeFree()
	return s
}

func TestSmokeWebhookDeniesOverTLS(t *testing.T) {
	ctx := context.Background()
	env.StartVipgate(t, operator.Options{AdmissionOnly: true, Inventory: staticInventory{demoSnapshot()}, InventoryStaleAfter: time.Hour})
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: "10.10.0.5",
			Ports: []corev1.ServicePort{{Name: "http", Port: 80}},
		},
	}
	err := env.Client.Create(ctx, svc)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("create: want Invalid from the webhook, got %v", err)
	}
	t.Logf("denial: %v", err)
	if !strings.Contains(err.Error(), `spec.loadBalancerIP: Invalid value: "10.10.0.5"`) {
		t.Errorf("message: %v", err)
	}
	out, kerr := env.Kubectl(ctx, `apiVersion: v1
kind: Service
metadata: {name: smoke, namespace: default}
spec:
  type: LoadBalancer
  loadBalancerIP: 10.10.0.5
  ports: [{name: http, port: 80}]
`, "apply", "-f", "-")
	t.Logf("kubectl: %s", out)
	if kerr == nil || !strings.Contains(out, `spec.loadBalancerIP: Invalid value: "10.10.0.5"`) {
		t.Errorf("kubectl apply: err=%v out=%s", kerr, out)
	}
}
