package reconcile

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/rules"
)

// modelInput gathers what BuildL7 needs for one shard: its routes' backend
// Services with their endpoints (or the node addresses in NodePort mode)
// and the certificates of its secure hosts. degraded maps a secure host
// whose certificate cannot be served to why; notes are what the shard's
// Ingresses should hear about (missing backends, unusable Secrets).
func (r *IngressReconciler) modelInput(ctx context.Context, sp *model.ShardPlan, w *world) (model.L7Input, map[string]string, []note, error) {
	in := model.L7Input{Settings: r.Settings, Shard: sp, Backends: map[string]model.Member{}, Certs: map[string]*model.Cert{}}
	if r.Inventory != nil {
		in.Snapshot = r.Inventory.Snapshot()
	}
	in.Shown = shardShown(sp, w)
	var notes []note
	for _, rt := range sp.Routes {
		key := rt.Namespace + "/" + rt.Backend.Name
		m, ok := in.Backends[key]
		if !ok {
			var err error
			if m, err = r.backend(ctx, rt.Namespace, rt.Backend.Name); err != nil {
				return in, nil, nil, err
			}
			in.Backends[key] = m
		}
		if !model.BackendPortFound(m, rt.Backend) {
			port := rt.Backend.Port.Name
			if port == "" {
				port = fmt.Sprint(rt.Backend.Port.Number)
			}
			notes = append(notes, note{rt.Namespace + "/" + rt.Ingress, ReasonBackend,
				fmt.Sprintf("Service %s port %s of host %s path %s does not exist; the path answers 503 until it does", key, port, rt.Host, rt.Path)})
		}
	}
	if model.NodePortMode(r.Settings) {
		addrs, err := nodeAddresses(ctx, r.Client, r.Settings)
		if err != nil {
			return in, nil, nil, err
		}
		in.NodeAddresses = addrs
	}
	degraded := map[string]string{}
	for _, t := range sp.TLS {
		c, problem, err := r.loadCert(ctx, t)
		if err != nil {
			return in, nil, nil, err
		}
		if c == nil {
			degraded[t.Host] = problem
			notes = append(notes, note{t.Ingress, ReasonTLSUnavailable, problem})
			continue
		}
		in.Certs[t.Host] = c
	}
	return in, degraded, notes, nil
}

// shardShown lists the addresses the shard's Ingresses show in status for
// the shard's hosts.
func shardShown(sp *model.ShardPlan, w *world) []string {
	hosts := map[string]bool{}
	for _, rt := range sp.Routes {
		hosts[rt.Host] = true
	}
	var out []string
	for _, key := range sp.Ingresses {
		ing := w.ings[key]
		if ing == nil {
			continue
		}
		for _, e := range ing.Status.LoadBalancer.Ingress {
			if hosts[e.Hostname] {
				out = append(out, e.IP)
			}
		}
	}
	return out
}

// backend reads a Service and, in ClusterIP mode, its EndpointSlices from
// the cache; a Service that does not exist gives an empty member.
func (r *IngressReconciler) backend(ctx context.Context, ns, name string) (model.Member, error) {
	var svc corev1.Service
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return model.Member{}, nil
		}
		return model.Member{}, err
	}
	sl, err := endpointSlices(ctx, r.Client, r.Settings, ns, name)
	m := model.Member{Service: &svc, Slices: sl}
	if err == nil {
		err = withNPL(ctx, r.Client, r.Settings, &m)
	}
	return m, err
}

// loadCert returns the PEM certificate and key for a secure host, or why it
// cannot be served (problem). err is a read that failed: the shard waits
// rather than dropping the host's HTTPS on an answer it did not get.
func (r *IngressReconciler) loadCert(ctx context.Context, t model.TLSHost) (c *model.Cert, problem string, err error) {
	ns, name := t.Namespace, t.SecretName
	if name == "" {
		ns, name = r.Namespace, DefaultSecretName
	}
	sec, err := r.secrets.get(ctx, r.secretCache(), r.APIReader, ns, name)
	if err != nil {
		return nil, "", err
	}
	if sec == nil && t.SecretName == "" {
		return nil, fmt.Sprintf("host %s uses the default certificate (%s on Ingress %s, or a tls[] entry without a secretName) and Secret %s/%s does not exist; HTTPS is not served for it until it is created",
			t.Host, AnnEnableTLS, t.Ingress, r.Namespace, DefaultSecretName), nil
	}
	if sec == nil {
		return nil, fmt.Sprintf("Secret %s/%s of host %s does not exist; HTTPS is not served for the host until it is created", ns, name, t.Host), nil
	}
	if p, _ := rules.JudgeTLSSecret(ns+"/"+name, sec.summary, r.now()); p != "" {
		return nil, fmt.Sprintf("HTTPS is not served for host %s: %s", t.Host, p), nil
	}
	return &model.Cert{Certificate: sec.data[corev1.TLSCertKey], Key: sec.data[corev1.TLSPrivateKeyKey]}, "", nil
}
