package ownership

import (
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// GatewayController is the GatewayClass spec.controllerName vipgate answers
// to: AKO's Gateway API controller name, the same as its LB class.
const GatewayController = LBClass

// gatewayOwnerPrefix starts every Gateway owner identity.
const gatewayOwnerPrefix = "Gateway/"

// GatewayOwner is the owner identity of a Gateway's controller objects.
func GatewayOwner(namespace, name string) string { return gatewayOwnerPrefix + namespace + "/" + name }

// IsGatewayOwner reports whether an owner identity is a Gateway's.
func IsGatewayOwner(owner string) bool { return strings.HasPrefix(owner, gatewayOwnerPrefix) }

// OwnsGatewayClass reports whether a GatewayClass is vipgate's.
func OwnsGatewayClass(gc *gatewayv1.GatewayClass) bool {
	return gc != nil && string(gc.Spec.ControllerName) == GatewayController
}
