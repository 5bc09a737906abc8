package main

import (
	"context"
	"testing"
	"time"

	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/vipgate/vipgate/certs"
)

// expiryMetric reads the exported expiry, or -1 when the series is absent.
func expiryMetric(t *testing.T) float64 {
	t.Helper()
	mfs, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "vipgate_webhook_certificate_expiry_timestamp_seconds" && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

func writeServing(t *testing.T, dir string, now time.Time, validity time.Duration) time.Time {
	t.Helper()
	ca, err := certs.NewCA("test-ca", now, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := certs.NewServing(ca, []string{"vipgate-webhook.vipgate-system.svc"}, now, validity)
	if err != nil {
		t.Fatal(err)
	}
	if err := certs.WriteDir(dir, ca.CertPEM, serving); err != nil {
		t.Fatal(err)
	}
	return serving.Cert.NotAfter
}

func TestCertExpiryFollowsTheServingCertificate(t *testing.T) {
	if _, err := certExpiryWatcher(t.TempDir()); err == nil {
		t.Fatal("a folder without tls.crt gave no error")
	}
	dir := t.TempDir()
	now := time.Now()
	first := writeServing(t, dir, now, 90*24*time.Hour)
	w, err := certExpiryWatcher(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The first read is exported at once, before the watcher runs.
	if got := expiryMetric(t); got != float64(first.Unix()) {
		t.Fatalf("expiry = %v, want %v (%s)", got, first.Unix(), first)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Start(ctx) }()
	defer func() { cancel(); <-done }()

	renewed := writeServing(t, dir, now.Add(time.Hour), 90*24*time.Hour)
	if renewed.Equal(first) {
		t.Fatal("renewed certificate has the same expiry; the test cannot tell them apart")
	}
	// The watcher polls every 10s besides file events: wait for it, not for a speed.
	deadline := time.Now().Add(30 * time.Second)
	for expiryMetric(t) != float64(renewed.Unix()) {
		if time.Now().After(deadline) {
			t.Fatalf("expiry = %v after renewal, want %v", expiryMetric(t), renewed.Unix())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
