// Package ha checks vipgate's replica model on a real API server: every replica
// serves admission, only the elected leader writes to the controller, and a
// follower takes over when the leader goes away.
package ha

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/internal/freeport"
	"github.com/vipgate/vipgate/operator"
	"github.com/vipgate/vipgate/tests/harness"
	"github.com/vipgate/vipgate/webhooks"
)

var env *harness.Env

func TestMain(m *testing.M) {
	harness.Main(m, harness.Options{}, func(e *harness.Env) { env = e })
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func elected(op *operator.Operator) bool {
	select {
	case <-op.Manager.Elected():
		return true
	default:
		return false
	}
}

// review sends a Service create AdmissionReview straight to a replica's webhook port.
func review(t *testing.T, port int, svc *corev1.Service) *admissionv1.AdmissionResponse {
	t.Helper()
	raw, err := json.Marshal(svc)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("ha-1"), Operation: admissionv1.Create, Namespace: svc.Namespace, Name: svc.Name,
			Kind:     metav1.GroupVersionKind{Version: "v1", Kind: "Service"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "services"},
			Object:   runtime.RawExtension{Raw: raw},
		},
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(env.CAData)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := hc.Post(fmt.Sprintf("https://127.0.0.1:%d%s", port, webhooks.PathValidateService), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("calling replica on %d: %v", port, err)
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Response == nil {
		t.Fatalf("replica answered %d with no review: %v", resp.StatusCode, err)
	}
	return out.Response
}

func TestOneLeaderReconcilesEveryReplicaAdmits(t *testing.T) {
	ctx := context.Background()
	sim, err := avisim.New(avisim.Options{Seed: avisim.DemoSeed(), Username: "admin", Password: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	sim.StartTLS()
	defer sim.Close()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "vipgate-system"}}); err != nil {
		t.Fatal(err)
	}
	opts := func(port int) operator.Options {
		return operator.Options{
			Settings: harness.DemoSettings(t, sim.Host()), Credentials: harness.SimCredentials(sim),
			InventoryStaleAfter: time.Hour, LeaderElect: true, LeaderElectionID: "vipgate-ha", Namespace: "vipgate-system",
			WebhookPort: port,
		}
	}
	leader, stopLeader := env.StartStoppableVipgate(t, opts(0))
	harness.WaitFor(t, "the first replica to be elected", time.Minute, func() bool { return elected(leader) })
	followerPort := freePort(t)
	follower := env.StartVipgate(t, opts(followerPort))
	if elected(follower) {
		t.Fatal("two replicas hold the lease")
	}

	// The follower admits and denies although it is not the leader.
	bad := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "bad", Namespace: "default"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: "10.10.0.5", Ports: []corev1.ServicePort{{Port: 80}}},
	}
	resp := review(t, followerPort, bad)
	if resp.Allowed || resp.Result == nil || !strings.Contains(resp.Result.Message, `spec.loadBalancerIP: Invalid value: "10.10.0.5"`) {
		t.Fatalf("follower's verdict on a bad IP: allowed=%v result=%+v", resp.Allowed, resp.Result)
	}

	// Only the leader writes: one Service costs exactly its three creates.
	sim.ResetCounts()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	if err := env.Client.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, "a VIP from the leader", time.Minute, func() bool {
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(svc), svc)
		return len(svc.Status.LoadBalancer.Ingress) > 0
	})
	if c := sim.Counts(); c["POST vsvip"] != 1 || c["POST virtualservice"] != 1 {
		t.Fatalf("creates on the controller: %v (two replicas writing?)", c)
	}
	vip := svc.Status.LoadBalancer.Ingress[0].IP

	// Failover: the leader's pod goes away and is replaced (a new replica on the
	// port the API server calls). Exactly one replica leads, and the delete
	// completes: objects removed from the controller, finalizer released.
	stopLeader()
	replacement := env.StartVipgate(t, opts(0))
	harness.WaitFor(t, "a new leader", 2*time.Minute, func() bool { return elected(follower) || elected(replacement) })
	if elected(follower) && elected(replacement) {
		t.Fatal("two replicas hold the lease after failover")
	}
	if err := env.Client.Delete(ctx, svc); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, "the new leader to remove the deleted Service's objects", time.Minute, func() bool {
		return len(sim.Objects("admin", "virtualservice")) == 0 && len(sim.Objects("admin", "vsvip")) == 0
	})
	harness.WaitFor(t, "the Service to be gone (finalizer released)", time.Minute, func() bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(svc), &corev1.Service{}))
	})
	t.Logf("leader allocated %s; after failover the new leader cleaned up on delete", vip)
}
