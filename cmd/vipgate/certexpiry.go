package main

import (
	"crypto/tls"
	"crypto/x509"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/certwatcher"

	"github.com/vipgate/vipgate/certs"
	"github.com/vipgate/vipgate/metrics"
)

// certExpiryWatcher follows the webhook serving certificate in certDir (the
// files the webhook server serves: cert-manager renews the mounted Secret,
// self-managed certificates are rewritten in place) and exports its expiry.
// The webhook server keeps its own watcher inside controller-runtime, out of
// reach, so this one reads the same files; add it to the manager to follow
// renewals.
func certExpiryWatcher(certDir string) (*certwatcher.CertWatcher, error) {
	w, err := certwatcher.New(filepath.Join(certDir, certs.TLSCertKey), filepath.Join(certDir, certs.TLSKeyKey))
	if err != nil {
		return nil, err
	}
	w.RegisterCallback(recordCertExpiry)
	return w, nil
}

func recordCertExpiry(c tls.Certificate) {
	leaf := c.Leaf
	if leaf == nil && len(c.Certificate) > 0 {
		leaf, _ = x509.ParseCertificate(c.Certificate[0])
	}
	if leaf != nil {
		metrics.WebhookCertificate(leaf.NotAfter)
	}
}
