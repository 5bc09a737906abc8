// Package model builds the Avi objects vipgate wants on the controller from
// plain Kubernetes inputs. It is pure: no I/O, no clock, no randomness, and
// its output is sorted, so the same inputs always give byte-identical objects
// and the applier's diffs are stable.
//
// Names follow AKO's so that objects created by AKO are recognised:
// VsVip and VirtualService "<cluster>--<ns>-<svc>" (or "<cluster>--<ns>-<sharedkey>"
// for a shared VIP), one Pool per port "<cluster>--<ns>-<svc>-<PROTO>-<port>".
//
// Port-to-pool mapping: the VirtualService's service_pool_select[] maps each
// (port, protocol) to its pool. That is one object fewer per Service than an
// L4PolicySet (fewer writes, nothing to keep in step) and expresses exactly
// "this port goes to this pool", which is all an L4 Service needs.
package model

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/vipgate/vipgate/rules"
)

// Avi object types as they appear in API paths, in creation (dependency) order.
const (
	TypeVsVip          = "vsvip"
	TypePool           = "pool"
	TypeL4PolicySet    = "l4policyset"
	TypeVirtualService = "virtualservice"
)

// CreateOrder lists the types a Set holds in the order they must be created;
// deletes go in reverse. Within virtualservice, parents are created before
// their SNI children and deleted after them (the applier orders by VS type).
var CreateOrder = []string{TypeVsVip, TypeSSLKeyAndCertificate, TypePool, TypePoolGroup, TypeL4PolicySet, TypeHTTPPolicySet, TypeVirtualService}

// MarkerCreatedBy is the marker key carrying created_by on objects whose
// model has no created_by field (VsVip).
const MarkerCreatedBy = "created_by"

// BaseName is the VsVip / VirtualService name of a Service: "<cluster>--<ns>-<svc>".
// For a shared VIP group pass the shared key as svc.
// The scheme lives in the rule book, which checks that a held VIP is this
// Service's own VsVip, so both always agree.
func BaseName(cluster, namespace, svc string) string {
	return rules.VsVipName(cluster, namespace, svc)
}

// PoolName is the pool of one Service port: "<cluster>--<ns>-<svc>-<PROTO>-<port>".
func PoolName(cluster, namespace, svc, protocol string, port int32) string {
	return BaseName(cluster, namespace, svc) + "-" + strings.ToUpper(protocol) + "-" + strconv.Itoa(int(port))
}

var poolSuffixRE = regexp.MustCompile(`^(TCP|UDP|SCTP)-[0-9]{1,5}$`)

// IsPoolOf reports whether name is a port pool of the Service whose base name
// is base. Service names are lower case, so the upper-case protocol makes the
// split unambiguous ("web" does not own the pools of "web-api").
func IsPoolOf(base, name string) bool {
	rest, ok := strings.CutPrefix(name, base+"-")
	return ok && poolSuffixRE.MatchString(rest)
}

// Ref is how the model refers to another object: by name, so it needs no UUIDs.
// The controller resolves "/api/<type>/?name=<name>" itself.
func Ref(objType, name string) string { return "/api/" + objType + "/?name=" + name }
