package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Operation kinds. Kubernetes operations name their target symbolically
// (cluster, namespace, name); the executor resolves them against the live
// state, so the sequence itself is a pure function of the seed whatever
// vipgate answers. An operation whose target is not there (its create was
// refused, say) is skipped and says so.
const (
	OpSvcCreate = "svc.create"
	OpSvcPorts  = "svc.ports"
	OpSvcClass  = "svc.class" // class "", "avi", "other" or type "clusterip"
	OpSvcInfra  = "svc.infra"
	OpSvcIP     = "svc.ip" // change the requested VIP (immutable: admission refuses)
	OpSvcKey    = "svc.key"
	OpSvcDelete = "svc.delete"
	OpEpsScale  = "eps.scale"
	// OpCtlDelete: an admin deletes a Service's virtual service and pools
	// on the controller (the Avi UI, a script), behind vipgate's back.
	OpCtlDelete = "ctl.delete"

	OpIngCreate = "ing.create"
	OpIngUpdate = "ing.update"
	OpIngDelete = "ing.delete"

	OpSecretCreate = "secret.create"
	OpSecretRotate = "secret.rotate"
	OpSecretDelete = "secret.delete"

	OpNsLabel  = "ns.label"
	OpNsTenant = "ns.tenant"
	OpNsInfra  = "ns.infra"

	OpAISCreate = "ais.create"
	OpAISEdit   = "ais.edit"
	OpAISDelete = "ais.delete"

	OpNodeCreate = "node.create"
	OpNodeDelete = "node.delete"

	OpFaultErrors    = "fault.errors"
	OpFaultLatency   = "fault.latency"
	OpFaultExpire    = "fault.expire"
	OpFaultConflict  = "fault.conflict"
	OpFaultDown      = "fault.down"
	OpFaultBlackhole = "fault.blackhole"
	OpFaultClear     = "fault.clear" // end every fault now

	OpReplicaKill    = "replica.kill"    // kill -9 (Target leader, follower or any)
	OpReplicaStop    = "replica.stop"    // SIGTERM the leader: it releases the lease
	OpReplicaStart   = "replica.start"   // start every replica of the cluster that is down
	OpReplicaRestart = "replica.restart" // kill -9 every replica, then start them all

	OpAwaitLeader = "replica.await" // wait (bounded) until the cluster has a leader

	OpImpostor   = "impostor"   // a vipgate with this cluster's name on another API server
	OpSleep      = "sleep"      // let Secs pass (faults and vipgate keep going)
	OpSettle     = "settle"     // wait until the controller has had no write for 2 s (at most Secs)
	OpAwaitFull  = "await.full" // wait (at most Secs) until the small VIP network has no free address
	OpConcurrent = "concurrent" // Sub operations sent at the same moment
	OpQuiesce    = "quiesce"    // stop faults, converge, check (3) (4) (7)
	OpConverge   = "converge"   // faults left on: wait (at most Secs) until namespace NS of cluster C matches the model, check (3) (4) (7) there
)

// Op is one step. Only the fields its Kind uses are set; it is stored as a
// JSON line, so a run can be replayed (CHAOS_REPLAY) from its step file.
type Op struct {
	Step int    `json:"step"`
	Kind string `json:"kind"`
	// C is the cluster (0 or 1).
	C    int    `json:"c,omitempty"`
	NS   string `json:"ns,omitempty"`
	Name string `json:"name,omitempty"`

	// Services.
	Ports []svcPort `json:"ports,omitempty"`
	// Class: "" (none, vipgate's by default), "avi" (ako.vmware.com/avi-lb),
	// "other" (another controller's), "clusterip" (type ClusterIP).
	Class string `json:"class,omitempty"`
	// IP: "" none, "fresh" (Reserved[IPIndex]), "held:<name>" (the VIP
	// Service <ns>/<name> holds now), "outside", "bcast", "small", "garbage".
	IP      string `json:"ip,omitempty"`
	IPIndex int    `json:"ipIndex,omitempty"`
	// IPAnn puts the request in the load-balancer-ip annotation instead of spec.loadBalancerIP.
	IPAnn bool   `json:"ipAnn,omitempty"`
	Key   string `json:"key,omitempty"`
	Infra string `json:"infra,omitempty"`
	// Eps are the echo backends (indexes) that are the Service's ready endpoints.
	Eps []int `json:"eps,omitempty"`
	// Wait makes a delete wait (bounded) until the object is gone.
	Wait bool `json:"wait,omitempty"`

	// Ingresses.
	Ing *IngSpec `json:"ing,omitempty"`
	// Variant of a Secret (valid, expired, mismatch) or an AviInfraSetting.
	Variant string `json:"variant,omitempty"`

	// Namespaces.
	On     bool   `json:"on,omitempty"`
	Tenant string `json:"tenant,omitempty"`

	// Nodes.
	Node int `json:"node,omitempty"`
	CIDR int `json:"cidr,omitempty"`

	// Faults.
	Rate   float64 `json:"rate,omitempty"`
	Status int     `json:"status,omitempty"`
	Ms     int     `json:"ms,omitempty"`
	Secs   int     `json:"secs,omitempty"`
	Type   string  `json:"type,omitempty"`
	Target string  `json:"target,omitempty"`

	Sub []Op `json:"sub,omitempty"`
	// Note names the scenario an operation belongs to.
	Note string `json:"note,omitempty"`
}

// IngSpec is an Ingress as operations write it: hosts are unique per
// Ingress (<ingress>[-2].<namespace>.example.com), so no two Ingresses
// claim one host and the oracle needs no conflict resolution.
type IngSpec struct {
	// Class: "" (the default class, vipgate's), "avi", "other".
	Class string    `json:"class,omitempty"`
	Rules []IngRule `json:"rules"`
	TLS   bool      `json:"tls,omitempty"`
}

// IngRule is one host with its paths.
type IngRule struct {
	// Host is 0 or 1: the Ingress's first or second host.
	Host  int       `json:"host"`
	Paths []IngPath `json:"paths"`
}

// IngPath routes a path prefix to a Service of the namespace (port 80).
type IngPath struct {
	Path    string `json:"path"`
	Backend string `json:"backend"`
}

// hostName is the host of an Ingress's rule.
func hostName(ns, ing string, h int) string {
	if h == 0 {
		return ing + "." + ns + ".example.com"
	}
	return fmt.Sprintf("%s-%d.%s.example.com", ing, h+1, ns)
}

// secretName is the TLS Secret of an Ingress.
func secretName(ing string) string { return ing + "-tls" }

func (o Op) target() string {
	c := clusterNames[o.C]
	switch {
	case o.NS != "" && o.Name != "":
		return c + ":" + o.NS + "/" + o.Name
	case o.NS != "":
		return c + ":" + o.NS
	case o.Name != "":
		return c + ":" + o.Name
	}
	return c
}

// String is the one-line form printed in step lists.
func (o Op) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s", o.Step, o.Kind)
	switch {
	case strings.HasPrefix(o.Kind, "svc.") || strings.HasPrefix(o.Kind, "eps.") || strings.HasPrefix(o.Kind, "ing.") ||
		strings.HasPrefix(o.Kind, "secret.") || strings.HasPrefix(o.Kind, "ns.") || strings.HasPrefix(o.Kind, "ais.") || o.Kind == OpCtlDelete ||
		strings.HasPrefix(o.Kind, "replica."):
		b.WriteString(" " + o.target())
	case strings.HasPrefix(o.Kind, "node."):
		fmt.Fprintf(&b, " %s:node-%d", clusterNames[o.C], o.Node)
	}
	var attrs []string
	add := func(format string, a ...any) { attrs = append(attrs, fmt.Sprintf(format, a...)) }
	if len(o.Ports) > 0 {
		ps := make([]string, len(o.Ports))
		for i, p := range o.Ports {
			ps[i] = p.String()
		}
		add("ports=%s", strings.Join(ps, ","))
	}
	if o.Class != "" {
		add("class=%s", o.Class)
	} else if o.Kind == OpSvcClass {
		add("class=none")
	}
	if o.IP != "" {
		via := "spec"
		if o.IPAnn {
			via = "annotation"
		}
		if o.IP == "fresh" {
			add("ip=fresh#%d(%s)", o.IPIndex, via)
		} else {
			add("ip=%s(%s)", o.IP, via)
		}
	}
	if o.Key != "" || o.Kind == OpSvcKey {
		add("key=%q", o.Key)
	}
	if o.Infra != "" || o.Kind == OpSvcInfra || o.Kind == OpNsInfra {
		add("infra=%q", o.Infra)
	}
	if o.Eps != nil || o.Kind == OpEpsScale {
		add("eps=%v", o.Eps)
	}
	if o.Ing != nil {
		add("ingress=%s", o.Ing.String())
	}
	if o.Variant != "" {
		add("variant=%s", o.Variant)
	}
	if o.Kind == OpNsLabel {
		add("selected=%v", o.On)
	}
	if o.Kind == OpNsTenant {
		add("tenant=%q", o.Tenant)
	}
	if o.Kind == OpNodeCreate {
		add("podCIDR=%s", nodeCIDR(o.C, o.Node, o.CIDR))
	}
	if o.Rate != 0 {
		add("rate=%.2f", o.Rate)
	}
	if o.Status != 0 {
		add("status=%d", o.Status)
	}
	if o.Ms != 0 {
		add("latency=%dms", o.Ms)
	}
	if o.Secs != 0 {
		add("for=%ds", o.Secs)
	}
	if o.Type != "" {
		add("type=%s", o.Type)
	}
	if o.Target != "" {
		add("target=%s", o.Target)
	}
	if o.Wait {
		add("wait")
	}
	if len(attrs) > 0 {
		b.WriteString(" " + strings.Join(attrs, " "))
	}
	for _, s := range o.Sub {
		s.Step = o.Step
		b.WriteString("\n      || " + strings.TrimPrefix(s.String(), fmt.Sprintf("#%d ", o.Step)))
	}
	if o.Note != "" {
		b.WriteString("  [" + o.Note + "]")
	}
	return b.String()
}

func (s *IngSpec) String() string {
	var rs []string
	for _, r := range s.Rules {
		var ps []string
		for _, p := range r.Paths {
			ps = append(ps, p.Path+"->"+p.Backend)
		}
		rs = append(rs, fmt.Sprintf("h%d{%s}", r.Host, strings.Join(ps, ",")))
	}
	out := strings.Join(rs, ";")
	if s.TLS {
		out += ";tls"
	}
	if s.Class != "" {
		out += ";class=" + s.Class
	}
	return out
}

// nodeCIDR is the pod CIDR variant v of node n of cluster c.
func nodeCIDR(c, n, v int) string {
	return fmt.Sprintf("10.%d.%d.0/24", 240+c, n*10+v)
}

// writeSteps writes ops as JSON lines (the replay format).
func writeSteps(path string, ops []Op) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, o := range ops {
		if err := enc.Encode(o); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// readSteps reads a step file written by writeSteps (possibly shortened by hand).
func readSteps(path string) ([]Op, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Op
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var o Op
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
		}
		out = append(out, o)
	}
	return out, nil
}
