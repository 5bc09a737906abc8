package reconcile

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/avi/model"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/ownership"
	"github.com/vipgate/vipgate/rules"
)

// modelInput gathers the Service (or its shared-VIP group) and what its pools need.
func (r *ServiceReconciler) modelInput(ctx context.Context, svc *corev1.Service, ns *corev1.Namespace, snap *inventory.Snapshot) (model.L4Input, error) {
	in := model.L4Input{Settings: r.Settings, Snapshot: snap}
	if name := rules.InfraSettingName(svc, ns); name != "" {
		ais, err := r.Lookups.AviInfraSetting(ctx, name)
		if err != nil {
			return in, err
		}
		if ais == nil {
			return in, fmt.Errorf("AviInfraSetting %q not found", name)
		}
		in.Infra = ais
	}
	members := []*corev1.Service{svc}
	if key := svc.Annotations[rules.AnnSharedVIP]; key != "" {
		in.SharedKey = key
		group, err := r.Lookups.ServicesBySharedVIPKey(ctx, svc.Namespace, key)
		if err != nil {
			return in, err
		}
		members = members[:0]
		for _, m := range group {
			if m.DeletionTimestamp == nil && ownership.OwnsService(m, r.Settings) {
				members = append(members, m)
			}
		}
	}
	for _, m := range members {
		sl, err := endpointSlices(ctx, r.Client, r.Settings, m.Namespace, m.Name)
		if err != nil {
			return in, err
		}
		mem := model.Member{Service: m, Slices: sl}
		if err := withNPL(ctx, r.Client, r.Settings, &mem); err != nil {
			return in, err
		}
		in.Members = append(in.Members, mem)
	}
	if model.NodePortMode(r.Settings) {
		addrs, err := nodeAddresses(ctx, r.Client, r.Settings)
		if err != nil {
			return in, err
		}
		in.NodeAddresses = addrs
	}
	return in, nil
}

// endpointSlices are a Service's EndpointSlices in ClusterIP mode; NodePort
// mode sends traffic to nodes and needs none.
func endpointSlices(ctx context.Context, c client.Reader, s *config.Settings, namespace, name string) ([]discoveryv1.EndpointSlice, error) {
	if model.NodePortMode(s) {
		return nil, nil
	}
	var list discoveryv1.EndpointSliceList
	if err := c.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{discoveryv1.LabelServiceName: name}); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// nodeAddresses are the InternalIPs of the nodes matching nodePortSelector,
// the pool servers in NodePort mode.
func nodeAddresses(ctx context.Context, c client.Reader, s *config.Settings) ([]string, error) {
	var nodes corev1.NodeList
	var opts []client.ListOption
	if sel := s.NodePortSelector; sel.Key != "" {
		opts = append(opts, client.MatchingLabels{sel.Key: sel.Value})
	}
	if err := c.List(ctx, &nodes, opts...); err != nil {
		return nil, err
	}
	var out []string
	for _, n := range nodes.Items {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				out = append(out, a.Address)
				break
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
