package model

// NodePortLocal (L7Settings.serviceType NodePortLocal): Antrea maps each
// pod port to a port on the pod's node and publishes the mapping in the
// pod's nodeportlocal.antrea.io annotation; pools then point at node IP and
// that port, straight to the pod, with no static routes. Which pods serve a
// Service port comes from its EndpointSlices (ready endpoints, targetRef
// pods), so readiness is the same as in ClusterIP mode.

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipgate/vipgate/config"
)

const (
	// AnnotationNPL is Antrea's pod annotation: a JSON list of
	// {podPort, nodeIP, nodePort, protocol, protocols}.
	AnnotationNPL = "nodeportlocal.antrea.io"
	// AnnotationNPLEnabled on a Service asks Antrea to map its pods' ports.
	AnnotationNPLEnabled = "nodeportlocal.antrea.io/enabled"
)

// NPLMapping is one entry of a pod's nodeportlocal.antrea.io annotation.
type NPLMapping struct {
	PodPort  int32  `json:"podPort"`
	NodeIP   string `json:"nodeIP"`
	NodePort int32  `json:"nodePort"`
	// Protocol is "tcp", "udp" or "sctp" (Antrea 1.7 and later).
	Protocol string `json:"protocol,omitempty"`
	// Protocols is the older, deprecated form of Protocol.
	Protocols []string `json:"protocols,omitempty"`
}

// NodePortLocalMode reports whether pools point at Antrea's NodePortLocal
// node ports (L7Settings.serviceType NodePortLocal, for L4 and L7 alike).
func NodePortLocalMode(s *config.Settings) bool {
	return s.L7Settings.ServiceType == ServiceTypeNodePortLocal
}

// ServiceTypeNodePortLocal is the L7Settings.serviceType of NodePortLocal mode.
const ServiceTypeNodePortLocal = "NodePortLocal"

// ParseNPL decodes a pod's nodeportlocal.antrea.io annotation.
func ParseNPL(v string) ([]NPLMapping, error) {
	var out []NPLMapping
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		return nil, fmt.Errorf("annotation %s is not a JSON list of port mappings: %w", AnnotationNPL, err)
	}
	return out, nil
}

// carries reports whether the mapping is for protocol proto. Antrea before
// 1.7 wrote no protocol and mapped TCP only.
func (m NPLMapping) carries(proto corev1.Protocol) bool {
	p := strings.ToLower(string(proto))
	switch {
	case m.Protocol != "":
		return strings.EqualFold(m.Protocol, p)
	case len(m.Protocols) > 0:
		return slices.ContainsFunc(m.Protocols, func(x string) bool { return strings.EqualFold(x, p) })
	}
	return proto == corev1.ProtocolTCP
}

// nplServers returns the pool servers of Service port p in NodePortLocal
// mode: for each ready endpoint of the port that is a pod, the node IP and
// node port Antrea mapped the endpoint's target port to. A pod without a
// mapping for the port (not annotated yet, or its Service not enabled for
// NodePortLocal) adds nothing.
func nplServers(m Member, p corev1.ServicePort) []hostPort {
	proto := p.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	var out []hostPort
	for _, sl := range m.Slices {
		port, ok := slicePort(sl, p, proto)
		if !ok {
			continue
		}
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" {
				continue
			}
			for _, mp := range m.NPL[ep.TargetRef.Name] {
				if mp.PodPort != port || !mp.carries(proto) || mp.NodePort <= 0 || mp.NodePort > 65535 {
					continue
				}
				if ip, err := netip.ParseAddr(mp.NodeIP); err == nil {
					out = append(out, hostPort{ip, mp.NodePort})
				}
			}
		}
	}
	return out
}
