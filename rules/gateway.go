package rules

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/vipgate/vipgate/crds/v1beta1"
	"github.com/vipgate/vipgate/ownership"
)

// Gateway API parameters: a GatewayClass of vipgate's names an
// AviInfraSetting (cluster scoped) for the SE group and VIP networks of its
// Gateways, as AKO's Gateway API container reads it.
const (
	GroupAKO            = "ako.vmware.com"
	KindAviInfraSetting = "AviInfraSetting"
)

// ClassParameters judges a GatewayClass's parametersRef: none, or an
// existing AviInfraSetting that is not Rejected. It returns the
// AviInfraSetting (nil when none) and the problem ("" when usable); a
// failed lookup is a problem too, since the class's Gateways cannot be
// placed without knowing their networks (the reconciler retries).
func ClassParameters(gc *gatewayv1.GatewayClass, env Env) (*v1beta1.AviInfraSetting, string, error) {
	ref := gc.Spec.ParametersRef
	if ref == nil {
		return nil, "", nil
	}
	if string(ref.Group) != GroupAKO || string(ref.Kind) != KindAviInfraSetting {
		return nil, field.Invalid(field.NewPath("spec", "parametersRef"), string(ref.Group)+"/"+string(ref.Kind),
			fmt.Sprintf("vipgate takes parameters from an AviInfraSetting (group %s, kind %s); point parametersRef at one, or remove it", GroupAKO, KindAviInfraSetting)).Error(), nil
	}
	if ref.Namespace != nil && *ref.Namespace != "" {
		return nil, field.Invalid(field.NewPath("spec", "parametersRef", "namespace"), string(*ref.Namespace),
			"AviInfraSetting is cluster scoped; remove the namespace").Error(), nil
	}
	ais, err := env.lookups().AviInfraSetting(env.ctx(), ref.Name)
	if err != nil {
		return nil, "", err
	}
	p := field.NewPath("spec", "parametersRef", "name")
	switch {
	case ais == nil:
		return nil, field.Invalid(p, ref.Name, "no AviInfraSetting with this name exists; create it first, or remove parametersRef").Error(), nil
	case ais.Status.Status == v1beta1.StatusRejected:
		return nil, field.Invalid(p, ref.Name, fmt.Sprintf("AviInfraSetting %q is Rejected: %s; fix it first, or select another one", ref.Name, ais.Status.Error)).Error(), nil
	}
	return ais, "", nil
}

// GatewayLookups are the cache reads the Gateway API rules need, besides
// Lookups (kept apart so the Service and Ingress rules' fakes need not grow).
type GatewayLookups interface {
	// GatewayClass returns the named GatewayClass, (nil, nil) when there is none.
	GatewayClass(ctx context.Context, name string) (*gatewayv1.GatewayClass, error)
	// GatewaysByAddress returns the Gateways requesting ip (canonical form)
	// in spec.addresses or holding it in status.addresses. It may include
	// the Gateway being checked.
	GatewaysByAddress(ctx context.Context, ip string) ([]*gatewayv1.Gateway, error)
	GrantLookups
}

// GatewayName is the VsVip and virtual service of a Gateway:
// "<cluster>--<ns>-<gateway>-EVH", the parent name AKO's Gateway API
// container gives it. Kubernetes names have no upper case, so no Service's
// or Ingress's objects can have it.
func GatewayName(cluster, namespace, name string) string {
	return cluster + "--" + namespace + "-" + name + "-EVH"
}

// Listener protocols vipgate programs; TLS listeners (passthrough) are not
// programmed yet (Accepted=False, UnsupportedProtocol).
var gatewayProtocols = []gatewayv1.ProtocolType{gatewayv1.HTTPProtocolType, gatewayv1.HTTPSProtocolType, gatewayv1.TCPProtocolType, gatewayv1.UDPProtocolType}

// GatewayProtocolSupported reports whether vipgate programs listeners of protocol p.
func GatewayProtocolSupported(p gatewayv1.ProtocolType) bool {
	return slices.Contains(gatewayProtocols, p)
}

// GatewayClassOf returns the Gateway's class when it is vipgate's (nil
// otherwise), its AviInfraSetting, and whether the class could be read.
func GatewayClassOf(res *Result, gw *gatewayv1.Gateway, env Env, gl GatewayLookups) (gc *gatewayv1.GatewayClass, ais *v1beta1.AviInfraSetting, infraKnown bool) {
	gc, err := gl.GatewayClass(env.ctx(), string(gw.Spec.GatewayClassName))
	if err != nil {
		res.Warn(couldNotCheck(fmt.Sprintf("GatewayClass %q", gw.Spec.GatewayClassName), err))
		return nil, nil, false
	}
	if gc == nil || string(gc.Spec.ControllerName) != ownership.GatewayController {
		return nil, nil, false
	}
	ais, problem, err := ClassParameters(gc, env)
	switch {
	case err != nil:
		res.Warn(couldNotCheck(fmt.Sprintf("the AviInfraSetting of GatewayClass %q", gc.Name), err))
		return gc, nil, false
	case problem != "":
		res.Warn(fmt.Sprintf("GatewayClass %q is not accepted (%s); the Gateway is programmed once it is", gc.Name, problem))
		return gc, nil, false
	}
	return gc, ais, true
}

// RequestedGatewayIP is the static VIP a Gateway asks for in spec.addresses
// (an entry of type IPAddress, the default type), "" when none.
func RequestedGatewayIP(gw *gatewayv1.Gateway) string {
	for _, a := range gw.Spec.Addresses {
		if a.Type == nil || *a.Type == gatewayv1.IPAddressType {
			return a.Value
		}
	}
	return ""
}

// ValidateGateway checks a Gateway of one of vipgate's GatewayClasses
// (others pass untouched); old is nil on create and in the reconciler.
// Addresses get the loadBalancerIP checks; listeners must be programmable
// on one virtual service.
func ValidateGateway(gw, old *gatewayv1.Gateway, env Env, gl GatewayLookups) Result {
	var res Result
	gc, ais, infraKnown := GatewayClassOf(&res, gw, env, gl)
	if gc == nil {
		return res
	}
	checkGatewayAddresses(&res, gw, old, ais, infraKnown, env, gl)
	checkListeners(&res, gw)
	checkListenerCerts(&res, gw, old, env, gl)
	return res
}

// checkGatewayAddresses: at most one address, of type IPAddress, fixed once
// the Gateway exists (the controller cannot move a VsVip's address), and
// usable as a VIP.
func checkGatewayAddresses(res *Result, gw, old *gatewayv1.Gateway, ais *v1beta1.AviInfraSetting, infraKnown bool, env Env, gl GatewayLookups) {
	p := field.NewPath("spec", "addresses")
	if n := len(gw.Spec.Addresses); n > 1 {
		res.Errors = append(res.Errors, field.Invalid(p, n, "vipgate gives a Gateway one VIP; list at most one address"))
		return
	}
	if len(gw.Spec.Addresses) == 1 {
		if t := gw.Spec.Addresses[0].Type; t != nil && *t != gatewayv1.IPAddressType {
			res.Errors = append(res.Errors, field.NotSupported(p.Index(0).Child("type"), string(*t), []string{string(gatewayv1.IPAddressType)}))
			return
		}
	}
	ip := RequestedGatewayIP(gw)
	vp := p.Index(0).Child("value")
	if old != nil {
		if was := RequestedGatewayIP(old); !sameIP(was, ip) {
			if was == "" {
				was = "unset"
			} else {
				was = strconv.Quote(was)
			}
			res.Errors = append(res.Errors, field.Invalid(vp, ip,
				fmt.Sprintf("the requested VIP cannot change after the Gateway is created (it was %s); delete and recreate the Gateway to move it to another address", was)))
		}
		return
	}
	if ip == "" {
		return
	}
	// Another Gateway first: it names the Kubernetes object to look at,
	// where the controller check would only name its VsVip.
	if canon, ok := CanonicalIP(ip); ok {
		others, err := gl.GatewaysByAddress(env.ctx(), canon)
		if err != nil {
			res.Warn(couldNotCheck(fmt.Sprintf("whether another Gateway requests or holds %s", ip), err))
		}
		var holders []string
		for _, o := range others {
			if o.Namespace != gw.Namespace || o.Name != gw.Name {
				holders = append(holders, o.Namespace+"/"+o.Name)
			}
		}
		if len(holders) > 0 {
			slices.Sort(holders)
			res.Errors = append(res.Errors, field.Invalid(vp, ip, fmt.Sprintf("is already requested or held by Gateway %s; a VIP belongs to one Gateway", listNames(holders))))
			return
		}
	}
	s := env.settings()
	checkRequestedVIP(res, vipClaim{path: vp, ip: ip, ownVsVips: []string{GatewayName(s.AKOSettings.ClusterName, gw.Namespace, gw.Name)},
		infra: ais, infraKnown: infraKnown}, env)
}

// checkListeners refuses listeners one virtual service cannot serve
// together: a port serves one protocol (Avi sets SSL and the application
// profile per port; UDP ports are apart from TCP ones), two HTTP, HTTPS or
// TLS listeners on one port need different hostnames, and a TCP or UDP port
// has one listener. Protocols vipgate does not program yet are a warning.
func checkListeners(res *Result, gw *gatewayv1.Gateway) {
	type portUse struct {
		idx   int
		proto gatewayv1.ProtocolType
		host  string
	}
	transport := func(p gatewayv1.ProtocolType) string {
		if p == gatewayv1.UDPProtocolType {
			return "udp"
		}
		return "tcp"
	}
	byPort := map[string][]portUse{}
	for i, l := range gw.Spec.Listeners {
		p := field.NewPath("spec", "listeners").Index(i)
		if !GatewayProtocolSupported(l.Protocol) {
			res.Warn(fmt.Sprintf("spec.listeners[%d] (%s): protocol %s is not programmed by vipgate yet; the listener gets Accepted=False, reason UnsupportedProtocol", i, l.Name, l.Protocol))
		}
		host := ""
		if l.Hostname != nil {
			host = string(*l.Hostname)
		}
		key := fmt.Sprintf("%d/%s", l.Port, transport(l.Protocol))
		for _, o := range byPort[key] {
			other := gw.Spec.Listeners[o.idx]
			switch {
			case o.proto != l.Protocol:
				res.Errors = append(res.Errors, field.Invalid(p.Child("protocol"), string(l.Protocol),
					fmt.Sprintf("port %d is already used by listener %s with protocol %s; an Avi virtual service port serves one protocol: use another port", l.Port, other.Name, o.proto)))
			case l.Protocol == gatewayv1.TCPProtocolType || l.Protocol == gatewayv1.UDPProtocolType:
				res.Errors = append(res.Errors, field.Invalid(p.Child("port"), int(l.Port),
					fmt.Sprintf("listener %s already serves %s on this port; a %s port has one listener", other.Name, l.Protocol, l.Protocol)))
			case o.host == host:
				res.Errors = append(res.Errors, field.Invalid(p.Child("hostname"), host,
					fmt.Sprintf("listener %s already serves %s on port %d with this hostname; listeners on one port and protocol need different hostnames", other.Name, l.Protocol, l.Port)))
			}
		}
		byPort[key] = append(byPort[key], portUse{i, l.Protocol, host})
	}
}
