package config

import (
	"strings"
	"testing"
)

const validYAML = `
AKOSettings:
  clusterName: demo
ControllerSettings:
  controllerHost: 10.0.0.1
`

func TestParseDefaults(t *testing.T) {
	s, err := Parse([]byte(validYAML))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checks := map[string][2]string{
		"clusterName":            {s.AKOSettings.ClusterName, "demo"},
		"shardVSSize":            {s.L7Settings.ShardVSSize, "LARGE"},
		"serviceType":            {s.L7Settings.ServiceType, "ClusterIP"},
		"autoFQDN":               {s.L4Settings.AutoFQDN, "default"},
		"cloudName":              {s.ControllerSettings.CloudName, "Default-Cloud"},
		"serviceEngineGroupName": {s.ControllerSettings.ServiceEngineGroupName, "Default-Group"},
		"tenantName":             {s.ControllerSettings.TenantName, "admin"},
		"fqdnReusePolicy":        {s.L7Settings.FQDNReusePolicy, "InterNamespaceAllowed"},
		"createdBy":              {s.CreatedBy(), "vipgate-demo"},
		"vrf":                    {s.VRF(), "global"},
	}
	for key, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want AKO's default %q", key, c[0], c[1])
		}
	}
	if !bool(s.L4Settings.DefaultLBController) || !bool(s.L7Settings.DefaultIngController) {
		t.Errorf("defaultLBController/defaultIngController should default to true")
	}
}

func TestParseAKOQuotedBooleans(t *testing.T) {
	s, err := Parse([]byte(`
L7Settings:
  defaultIngController: 'false'
AKOSettings:
  clusterName: demo
  disableStaticRouteSync: 'true'
ControllerSettings:
  controllerHost: 10.0.0.1
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if s.L7Settings.DefaultIngController || !s.AKOSettings.DisableStaticRouteSync {
		t.Errorf("quoted booleans not honoured: %+v %+v", s.L7Settings, s.AKOSettings)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "bad cluster name",
			yaml: "AKOSettings: {clusterName: 'my cluster!'}\nControllerSettings: {controllerHost: c}",
			want: []string{"AKOSettings.clusterName: must match ^[a-zA-Z0-9-_]+$"},
		},
		{
			// No default: two clusters that both kept one would meet on the controller.
			name: "missing cluster name",
			yaml: "ControllerSettings: {controllerHost: c}",
			want: []string{"AKOSettings.clusterName: is required"},
		},
		{
			name: "missing controller host",
			yaml: "AKOSettings: {clusterName: a}",
			want: []string{"ControllerSettings.controllerHost: is required"},
		},
		{
			name: "several mistakes all reported",
			yaml: `
AKOSettings: {clusterName: 'bad name', ipFamily: V5, cniPlugin: weave}
L7Settings: {shardVSSize: HUGE, serviceType: LoadBalancer, fqdnReusePolicy: Loose}
L4Settings: {autoFQDN: short}
NetworkSettings:
  vipNetworkList:
  - cidr: 10.0.0.0/33
ControllerSettings: {controllerHost: c, controllerVersion: latest}
`,
			want: []string{
				"AKOSettings.clusterName: must match ^[a-zA-Z0-9-_]+$",
				`AKOSettings.cniPlugin: must be one of [calico, canal, flannel, antrea, ncp, openshift, ovn-kubernetes, cilium], got "weave"`,
				`AKOSettings.ipFamily: must be one of [V4, V6], got "V5"`,
				`ControllerSettings.controllerVersion: must be a controller version like 22.1.3, got "latest"`,
				`L4Settings.autoFQDN: must be one of [default, flat, disabled], got "short"`,
				`L7Settings.fqdnReusePolicy: must be one of [InterNamespaceAllowed, Strict], got "Loose"`,
				`L7Settings.serviceType: must be one of [ClusterIP, NodePort, NodePortLocal], got "LoadBalancer"`,
				`L7Settings.shardVSSize: must be one of [LARGE, MEDIUM, SMALL, DEDICATED], got "HUGE"`,
				`NetworkSettings.vipNetworkList[0].cidr: must be an IPv4 CIDR like 10.0.0.0/24, got "10.0.0.0/33"`,
				"NetworkSettings.vipNetworkList[0].networkName: is required when NetworkUUID is not set",
			},
		},
		{
			name: "v6cidr without IPv6",
			yaml: "AKOSettings: {clusterName: a}\nControllerSettings: {controllerHost: c}\nNetworkSettings: {vipNetworkList: [{networkName: n, v6cidr: 'fd00::/64'}]}",
			want: []string{"NetworkSettings.vipNetworkList[0].v6cidr: needs AKOSettings.ipFamily V6"},
		},
		{
			name: "duplicate vip network",
			yaml: "AKOSettings: {clusterName: a}\nControllerSettings: {controllerHost: c}\nNetworkSettings: {vipNetworkList: [{networkName: net-1}, {networkName: net-1}]}",
			want: []string{`NetworkSettings.vipNetworkList[1]: duplicate network "net-1"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			verrs, ok := err.(ValidationErrors)
			if !ok {
				t.Fatalf("want ValidationErrors, got %T: %v", err, err)
			}
			if strings.Join(verrs, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(verrs, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParseUnknownKey(t *testing.T) {
	_, err := Parse([]byte(validYAML + "L4Settings: {autoFQDNs: flat}\n"))
	if err == nil || !strings.Contains(err.Error(), `L4Settings.autoFQDNs: unknown key`) {
		t.Fatalf("want unknown-field error naming the key, got %v", err)
	}
}

func TestCredentialsNeverPrintSecrets(t *testing.T) {
	c := Credentials{Username: "admin", Password: "s3cr3t-pw", AuthToken: "tok-123"}
	for _, s := range []string{c.String(), c.GoString()} {
		if strings.Contains(s, "s3cr3t-pw") || strings.Contains(s, "tok-123") {
			t.Fatalf("credentials leaked: %s", s)
		}
	}
}

func TestUnsupportedKeysAreNamed(t *testing.T) {
	s, err := Parse([]byte(validYAML + `
L7Settings: {noPGForSNI: true}
NetworkSettings: {nsxtT1LR: /infra/tier-1s/t1}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(s.Unsupported(), "\n")
	want := "NetworkSettings.nsxtT1LR: /infra/tier-1s/t1 is accepted for AKO compatibility but has no effect in vipgate\n" +
		"L7Settings.noPGForSNI: true is accepted for AKO compatibility but has no effect in vipgate"
	if got != want {
		t.Errorf("Unsupported():\n%s\nwant:\n%s", got, want)
	}
	def, _ := Parse([]byte(validYAML))
	if u := def.Unsupported(); len(u) != 0 {
		t.Errorf("AKO's defaults reported as unsupported: %v", u)
	}
}
