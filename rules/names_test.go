package rules

import (
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipgate/vipgate/avi/inventory"
	"github.com/vipgate/vipgate/config"
)

const meet = `(Avi names join namespace and name with "-", so different objects can meet)`

// TestNameClaims: plain concatenation gives different owners one Avi name;
// the second one is refused, naming the holder and the fix, whether it is a
// Service of this cluster, an Ingress's secure host, or an object on the
// controller that another owner, cluster or tool holds.
func TestNameClaims(t *testing.T) {
	held := func(name, createdBy, clusterID, owner string) func(*inventory.Snapshot) {
		return func(s *inventory.Snapshot) {
			s.VsVips = map[string][]inventory.Holder{name: {{VsVip: name, CreatedBy: createdBy, ClusterID: clusterID, Owner: owner, Tenant: "admin"}}}
		}
	}
	identity := func(svcs ...*corev1.Service) *fakeLookups { return newFake().addService(svcs...) }
	tests := []struct {
		name     string
		svc, old *corev1.Service
		lk       *fakeLookups
		inv      *inventory.Snapshot
		wantErrs []string
		wantWarn []string
	}{
		{"team/a-web after team-a/web", lbSvc("team", "a-web"), nil, identity(lbSvc("team-a", "web")), demoInventory(), []string{
			`metadata.name: Invalid value: "a-web": its Avi name "demo--team-a-web" is already used by Service team-a/web ` + meet + `; rename this Service, or that one`}, nil},
		{"a shared-VIP key equal to another Service's name", lbSvc("team", "api", shared("web")), nil, identity(lbSvc("team", "web")), demoInventory(), []string{
			`metadata.annotations[ako.vmware.com/enable-shared-vip]: Invalid value: "web": its Avi name "demo--team-web" is already used by Service team/web ` + meet + `; pick another shared-VIP key (or rename the Service)`}, nil},
		{"members of one group share their names", lbSvc("team", "b", shared("grp"), func(s *corev1.Service) { s.Spec.Ports[0].Port = 443 }), nil,
			identity(lbSvc("team", "a", shared("grp"))), demoInventory(), nil, nil},
		{"a Service whose name a secure Ingress host holds", lbSvc("team", "web"), nil,
			newFake().addIngress(ingress("shop", "site", hosts("team-web"), tlsEntry("s", "team-web"))), demoInventory(), []string{
				`metadata.name: Invalid value: "web": its Avi name "demo--team-web" is already used by Ingress shop/site ` + meet + `; rename this Service, or that one`}, nil},
		{"held on the controller by another owner of this cluster", lbSvc("team", "a-web"), nil, newFake(),
			demoInventory(held("demo--team-a-web", "vipgate-demo", "", "Service/team-a/web")), []string{
				`metadata.name: Invalid value: "a-web": its Avi name "demo--team-a-web" is already used by VsVip "demo--team-a-web" of Service/team-a/web on the controller ` + meet + `; rename this Service, or that one`}, nil},
		{"held on the controller by another cluster with the same name", lbSvc("team", "web"), nil, newFake(),
			demoInventory(held("demo--team-web", "vipgate-demo", "uid-prod", "Service/team/web")), []string{
				`metadata.name: Invalid value: "web": its Avi name "demo--team-web" is already used by VsVip "demo--team-web" of another cluster named "demo" on the controller (identity uid-prod); give each cluster its own AKOSettings.clusterName ` + meet + `; rename this Service, or that one`}, nil},
		{"held on the controller by another tool", lbSvc("team", "web"), nil, newFake(),
			demoInventory(held("demo--team-web", "terraform", "", "")), []string{
				`metadata.name: Invalid value: "web": its Avi name "demo--team-web" is already used by VsVip "demo--team-web" on the controller (created_by "terraform"), which this cluster does not manage ` + meet + `; rename this Service, or that one`}, nil},
		{"its own VsVip on the controller", lbSvc("team", "web"), nil, newFake(),
			demoInventory(held("demo--team-web", "vipgate-demo", "uid-demo", "Service/team/web")), nil, nil},
		{"an update keeping its names is not checked again", lbSvc("team", "a-web"), lbSvc("team", "a-web"), identity(lbSvc("team-a", "web")), demoInventory(), nil, nil},
		{"a lookup that fails admits with a warning", lbSvc("team", "a-web"), nil, identity(lbSvc("team-a", "web")).failing(errors.New("cache not synced")), demoInventory(), nil, []string{
			`could not check Namespace team (its AviInfraSetting and tenant annotations) (cache not synced); admitted, and checked again when it is reconciled`,
			`could not check whether Avi name "demo--team-a-web" is free (cache not synced); admitted, and checked again when it is reconciled`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := demoSettings(func(s *config.Settings) { s.ClusterID = "uid-demo" })
			env := Env{Settings: s, Inventory: tt.inv, Lookups: tt.lk, Now: now}
			checkResult(t, ValidateService(tt.svc, tt.old, env), tt.wantErrs, tt.wantWarn)
		})
	}
}

// TestAKOVsVipClaims: AKO's VsVip of a Service's own name is the Service's
// to adopt; with adoption off it is someone else's.
func TestAKOVsVipClaims(t *testing.T) {
	ako := demoInventory(func(s *inventory.Snapshot) {
		s.VsVips = map[string][]inventory.Holder{"demo--team-web": {{VsVip: "demo--team-web", ClusterName: "demo", Tenant: "admin"}}}
	})
	env := Env{Settings: demoSettings(), Inventory: ako, Lookups: newFake(), Now: now}
	checkResult(t, ValidateService(lbSvc("team", "web"), nil, env), nil, nil)
	env.Settings = demoSettings(func(s *config.Settings) { s.AKOSettings.AdoptAKOObjects = false })
	checkResult(t, ValidateService(lbSvc("team", "web"), nil, env), []string{
		`metadata.name: Invalid value: "web": its Avi name "demo--team-web" is already used by VsVip "demo--team-web" on the controller (written by AKO for this clusterName; AKOSettings.adoptAKOObjects is false, so this cluster does not manage it) (Avi names join namespace and name with "-", so different objects can meet); rename this Service, or that one`}, nil)
}

// TestIngressHostClaims: a secure host without a dot is the name of an SNI
// virtual service, which an L4 Service of the same joined name already holds.
func TestIngressHostClaims(t *testing.T) {
	lk := newFake().addService(lbSvc("team", "web"))
	ing := ingress("shop", "site", hosts("team-web"), tlsEntry("", "team-web"))
	env := Env{Settings: demoSettings(), Inventory: demoInventory(), Lookups: lk, Now: now}
	checkResult(t, ValidateIngress(ing, nil, env), []string{
		`spec.tls[0].hosts[0]: Invalid value: "team-web": its SNI virtual service name "demo--team-web" is already used by Service team/web ` + meet +
			`; use another host name (a host without a dot becomes a virtual service name)`}, nil)
	checkResult(t, ValidateIngress(ing, ing, env), nil, nil)
}

// TestHoldersAreServedServices: another Service's name or requested VIP
// counts against a Service only while vipgate serves it (owned, in a
// selected namespace): one in a namespace vipgate does not select holds
// nothing on the controller, and is the one refused if its namespace is
// selected later. A Namespace that cannot be read is not a "no": admitted
// with a warning.
func TestHoldersAreServedServices(t *testing.T) {
	selector := func(s *config.Settings) {
		s.AKOSettings.NamespaceSelector.LabelKey, s.AKOSettings.NamespaceSelector.LabelValue = "vipgate", "on"
	}
	blocked := func(s *config.Settings) { s.AKOSettings.BlockedNamespaceList = []string{"team-a"} }
	lookups := func(selected ...string) *fakeLookups {
		f := newFake().addService(lbSvc("team-a", "web", ip("10.50.0.40")))
		for _, n := range []string{"team", "team-a"} {
			f.addNamespace(n, "")
			if slices.Contains(selected, n) {
				f.namespaces[n].Labels = map[string]string{"vipgate": "on"}
			}
		}
		return f
	}
	nameTaken := `metadata.name: Invalid value: "a-web": its Avi name "demo--team-a-web" is already used by Service team-a/web ` + meet + `; rename this Service, or that one`
	ipTaken := `spec.loadBalancerIP: Invalid value: "10.50.0.40": is already requested or held by Service team-a/web; a VIP belongs to one Service unless Services in the same namespace share it with the same ako.vmware.com/enable-shared-vip key`
	tests := []struct {
		name     string
		settings func(*config.Settings)
		lk       *fakeLookups
		wantErrs []string
		wantWarn []string
	}{
		{"holder's namespace selected", selector, lookups("team", "team-a"), []string{nameTaken, ipTaken}, nil},
		{"holder's namespace not selected", selector, lookups("team"), nil, nil},
		{"holder's namespace blocked", blocked, lookups(), nil, nil},
		{"no selection: every namespace", func(*config.Settings) {}, lookups(), []string{nameTaken, ipTaken}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := Env{Settings: demoSettings(tt.settings), Inventory: demoInventory(), Lookups: tt.lk, Now: now}
			checkResult(t, ValidateService(lbSvc("team", "a-web", ip("10.50.0.40")), nil, env), tt.wantErrs, tt.wantWarn)
		})
	}
}

// TestIngressHoldersAreServed: a secure Ingress host holds its SNI name
// against a Service only while the Ingress's namespace is selected.
func TestIngressHoldersAreServed(t *testing.T) {
	s := demoSettings(func(s *config.Settings) {
		s.AKOSettings.NamespaceSelector.LabelKey, s.AKOSettings.NamespaceSelector.LabelValue = "vipgate", "on"
	})
	taken := `metadata.name: Invalid value: "web": its Avi name "demo--team-web" is already used by Ingress shop/site ` + meet + `; rename this Service, or that one`
	for _, tt := range []struct {
		name     string
		selected bool
		wantErrs []string
	}{{"the Ingress's namespace selected", true, []string{taken}}, {"the Ingress's namespace not selected", false, nil}} {
		t.Run(tt.name, func(t *testing.T) {
			lk := newFake().addIngress(ingress("shop", "site", hosts("team-web"), tlsEntry("s", "team-web"))).addNamespace("shop", "").addNamespace("team", "")
			lk.namespaces["team"].Labels = map[string]string{"vipgate": "on"}
			if tt.selected {
				lk.namespaces["shop"].Labels = map[string]string{"vipgate": "on"}
			}
			env := Env{Settings: s, Inventory: demoInventory(), Lookups: lk, Now: now}
			checkResult(t, ValidateService(lbSvc("team", "web"), nil, env), tt.wantErrs, nil)
		})
	}
}
