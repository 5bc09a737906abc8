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
	"slices"
	"strconv"
	"strings"

	"k8s.io/utils/ptr"

	"github.com/vipgate/vipgate/avi/objects"
	"github.com/vipgate/vipgate/config"
	"github.com/vipgate/vipgate/rules"
)

// Avi object types as they appear in API paths, in creation (dependency) order.
const (
	TypeVsVip       = "vsvip"
	TypePool        = "pool"
	TypeL4PolicySet = "l4policyset"
	// TypeVSDataScriptSet is not built by vipgate; AKO's shared L7 parents
	// carry one, which adoption removes.
	TypeVSDataScriptSet = "vsdatascriptset"
	TypeVirtualService  = "virtualservice"
)

// CreateOrder lists the types a Set holds in the order they must be created;
// deletes go in reverse. Within virtualservice, parents are created before
// their SNI children and deleted after them (the applier orders by VS type).
var CreateOrder = []string{TypeVsVip, TypeSSLKeyAndCertificate, TypePool, TypePoolGroup, TypeVSDataScriptSet, TypeL4PolicySet, TypeHTTPPolicySet, TypeVirtualService}

// Marker keys on every object vipgate writes. created_by repeats the field
// for types without it (VsVip); clustername is AKO's; the cluster identity
// and the owner make ownership provable (see ownership.ServiceOwner).
const (
	MarkerCreatedBy   = "created_by"
	MarkerClusterName = "clustername"
	MarkerClusterID   = "vipgate-cluster-id"
	MarkerOwner       = "vipgate-owner"
)

// Markers returns the markers of an object owned by owner.
func Markers(s *config.Settings, owner string) []*objects.RoleFilterMatchLabel {
	m := []*objects.RoleFilterMatchLabel{
		{Key: ptr.To(MarkerCreatedBy), Values: []string{s.CreatedBy()}},
		{Key: ptr.To(MarkerClusterName), Values: []string{s.AKOSettings.ClusterName}},
	}
	if s.ClusterID != "" {
		m = append(m, &objects.RoleFilterMatchLabel{Key: ptr.To(MarkerClusterID), Values: []string{s.ClusterID}})
	}
	return append(m, &objects.RoleFilterMatchLabel{Key: ptr.To(MarkerOwner), Values: []string{owner}})
}

// AKOMarkers are the markers AKO puts on an object besides clustername,
// named as AKO names them, so Avi role filters written for AKO's objects
// match vipgate's. Empty fields are left out.
type AKOMarkers struct {
	Namespace        string
	Host             []string
	InfrasettingName string
	ServiceName      string
	Path             []string
	Port             string
	Protocol         string
	IngressName      []string
	GatewayName      string
}

// labels renders the markers in AKO's order.
func (m AKOMarkers) labels() []*objects.RoleFilterMatchLabel {
	var out []*objects.RoleFilterMatchLabel
	one := func(k, v string) {
		if v != "" {
			out = append(out, &objects.RoleFilterMatchLabel{Key: ptr.To(k), Values: []string{v}})
		}
	}
	many := func(k string, v []string) {
		if len(v) > 0 {
			out = append(out, &objects.RoleFilterMatchLabel{Key: ptr.To(k), Values: slices.Clone(v)})
		}
	}
	one("Namespace", m.Namespace)
	many("Host", m.Host)
	one("InfrasettingName", m.InfrasettingName)
	one("ServiceName", m.ServiceName)
	many("Path", m.Path)
	one("Port", m.Port)
	one("Protocol", m.Protocol)
	many("IngressName", m.IngressName)
	one("GatewayName", m.GatewayName)
	return out
}

// AKOMarkerKeys are the marker keys AKOMarkers writes: adoption compares
// them between AKO's object and vipgate's desired one.
var AKOMarkerKeys = []string{"Namespace", "Host", "InfrasettingName", "ServiceName", "Path", "Port", "Protocol", "IngressName", "GatewayName"}

// BaseName is the VsVip / VirtualService name of a Service: "<cluster>--<ns>-<svc>".
// For a shared VIP group pass the shared key as svc.
// The scheme lives in the rule book, which checks that a held VIP is this
// Service's own VsVip, so both always agree.
func BaseName(cluster, namespace, svc string) string {
	return rules.VsVipName(cluster, namespace, svc)
}

// PoolName is the pool of one Service port: "<base>-<PROTO>-<port>", where
// base is rules.PoolBaseName ("<cluster>--<ns>-<svc>", with "-<key>" for a
// shared-VIP member).
func PoolName(base, protocol string, port int32) string {
	return base + "-" + strings.ToUpper(protocol) + "-" + strconv.Itoa(int(port))
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
