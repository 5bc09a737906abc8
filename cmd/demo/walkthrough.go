package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// A step runs one kubectl command as a user would and checks what it printed.
type stepCheck struct {
	title string
	// args for kubectl; manifest is fed on stdin when set.
	args     []string
	manifest string
	// wantErr: kubectl must fail (a denial); wantOut: substrings of its output.
	wantErr bool
	wantOut []string
}

func (d *demo) kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.kubectlPath, append([]string{"--kubeconfig", d.kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// show prints the command and its output the way a terminal would.
func show(args []string, manifest, out string) {
	fmt.Printf("\n$ kubectl %s", strings.Join(args, " "))
	if manifest != "" {
		fmt.Printf(" <<EOF\n%sEOF", manifest)
	}
	fmt.Println()
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		fmt.Println("  " + l)
	}
}

func (d *demo) run(ctx context.Context, s stepCheck) bool {
	step("%s", s.title)
	out, err := d.kubectl(ctx, s.manifest, s.args...)
	show(s.args, s.manifest, out)
	ok := (err != nil) == s.wantErr
	for _, w := range s.wantOut {
		if !strings.Contains(out, w) {
			ok = false
			fmt.Printf("  !! expected the output to contain: %s\n", w)
		}
	}
	if !ok {
		fmt.Printf("  !! step did not behave as expected (kubectl error: %v)\n", err)
	}
	return ok
}

const badService = `apiVersion: v1
kind: Service
metadata:
  name: web-wrong-ip
  namespace: default
spec:
  type: LoadBalancer
  loadBalancerIP: 10.10.0.5
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
`

const goodService = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
`

const ingressMissingSecret = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop
  namespace: default
spec:
  ingressClassName: avi-lb
  tls:
  - hosts: [shop.example.com]
    secretName: shop-tls
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
`

const multiNetworkInfra = `apiVersion: ako.vmware.com/v1beta1
kind: AviInfraSetting
metadata:
  name: two-networks
spec:
  seGroup: {name: edge-seg}
  network:
    vipNetworks:
    - networkName: vip-net-a
    - networkName: vip-net-b
`

// walkthrough runs every step and returns how many misbehaved.
func (d *demo) walkthrough(ctx context.Context) int {
	failed := 0
	check := func(ok bool) {
		if !ok {
			failed++
			clock.fail()
		}
	}
	pods, err := startPods()
	if err != nil {
		fmt.Printf("  !! %v\n", err)
		return 1
	}
	defer func() {
		for _, p := range pods {
			p.Close()
		}
	}()
	check(d.run(ctx, stepCheck{
		title:    "1. A Service asks for a loadBalancerIP outside every VIP network: refused at once",
		args:     []string{"apply", "-f", "-"},
		manifest: badService, wantErr: true,
		wantOut: []string{`spec.loadBalancerIP: Invalid value: "10.10.0.5": not inside any VIP network`, "10.50.0.10-10.50.0.200"},
	}))
	check(d.run(ctx, stepCheck{
		title:    "2. A good Service is admitted ...",
		args:     []string{"apply", "-f", "-"},
		manifest: goodService,
		wantOut:  []string{"service/web created"},
	}))
	ip := d.waitForVIP(ctx, "web")
	check(d.run(ctx, stepCheck{
		title:   "   ... and gets its VIP from the controller's IPAM",
		args:    []string{"get", "service", "web", "-n", "default", "-o", "wide"},
		wantOut: []string{"web", ip},
	}) && ip != "")
	check(d.run(ctx, stepCheck{
		title:   "   status.loadBalancer and the vipgate condition",
		args:    []string{"get", "service", "web", "-n", "default", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}{\"  \"}{.status.conditions[0].type}={.status.conditions[0].status}{\"\\n\"}"},
		wantOut: []string{ip, "AviSynced=True"},
	}) && ip != "")
	check(d.run(ctx, stepCheck{
		title:    "   The Service's endpoints (no kubelet here, so the demo plays the endpoint controller)",
		args:     []string{"apply", "-f", "-"},
		manifest: webEndpoints(pods),
		wantOut:  []string{"endpointslice.discovery.k8s.io/web-demo created"},
	}))
	check(d.run(ctx, stepCheck{
		title:    "3. An Ingress whose TLS Secret does not exist: refused",
		args:     []string{"apply", "-f", "-"},
		manifest: ingressMissingSecret, wantErr: true,
		wantOut: []string{`spec.tls[0].secretName: Invalid value: "shop-tls": Secret default/shop-tls does not exist`},
	}))
	check(d.run(ctx, stepCheck{
		title:    "4. An AviInfraSetting with two VIP networks on a vCenter cloud (multi-VIP needs AWS): refused",
		args:     []string{"apply", "-f", "-"},
		manifest: multiNetworkInfra, wantErr: true,
		wantOut: []string{"CLOUD_VCENTER", "vip-net-b"},
	}))
	d.waitForPoolServers(ctx, "demo--default-web-TCP-80", 2)
	check(d.showControllerObjects(ctx, ip, podServers(pods)))
	check(d.showServiceTraffic(ctx, ip, pods))
	check(d.showIngressTraffic(ctx, pods))
	check(d.showHostRule(ctx))
	check(d.showGateway(ctx, pods))
	return failed
}

func (d *demo) waitForVIP(ctx context.Context, name string) string {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := d.kubectl(ctx, "", "get", "service", name, "-n", "default", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		if err == nil && strings.TrimSpace(out) != "" {
			return strings.TrimSpace(out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return ""
}

// showControllerObjects lists what vipgate created on the controller, read from
// avisim's admin endpoint, and checks the VsVip holds the VIP the Service shows.
func (d *demo) showControllerObjects(ctx context.Context, ip, wantServers string) bool {
	step("5. The objects vipgate created on the controller (created_by vipgate-demo)")
	ok := true
	sawVIP := false
	for _, typ := range []string{"vsvip", "pool", "virtualservice"} {
		objs, err := d.simObjects(ctx, typ)
		if err != nil {
			fmt.Printf("  !! reading %s: %v\n", typ, err)
			return false
		}
		for _, o := range objs {
			name, _ := o["name"].(string)
			if !strings.HasPrefix(name, "demo--") {
				continue
			}
			detail := ""
			switch typ {
			case "vsvip":
				raw, _ := json.Marshal(o["vip"])
				if ip != "" && strings.Contains(string(raw), `"`+ip+`"`) {
					sawVIP = true
				}
				detail = "vip " + ip
			case "pool":
				detail = "servers " + servers(o["servers"])
				if detail != "servers "+wantServers {
					fmt.Printf("  !! pool %s should hold the two ready endpoints\n", name)
					ok = false
				}
			case "virtualservice":
				raw, _ := json.Marshal(o["services"])
				detail = "services " + string(raw)
			}
			fmt.Printf("  %-15s %-32s %s\n", typ, name, detail)
		}
	}
	if !sawVIP {
		fmt.Printf("  !! no VsVip on the controller holds %s\n", ip)
		ok = false
	}
	return ok
}

// simObjects reads one type's objects from avisim's admin endpoint.
func (d *demo) simObjects(ctx context.Context, typ string) ([]map[string]any, error) {
	hc, err := d.simClient()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://%s/admin/objects?tenant=admin&type=%s", d.aviAddr, typ), nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var objs []map[string]any
	if err := json.Unmarshal(body, &objs); err != nil {
		var wrapped struct {
			Results []map[string]any `json:"results"`
		}
		if json.Unmarshal(body, &wrapped) != nil {
			return nil, fmt.Errorf("unexpected answer %s", strings.TrimSpace(string(body)))
		}
		objs = wrapped.Results
	}
	return objs, nil
}

// waitForPoolServers waits until vipgate has put the endpoints into the pool.
func (d *demo) waitForPoolServers(ctx context.Context, pool string, n int) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		objs, err := d.simObjects(ctx, "pool")
		if err == nil {
			for _, o := range objs {
				if l, _ := o["servers"].([]any); o["name"] == pool && len(l) == n {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// servers renders a pool's servers as ip:port, as the controller holds them.
func servers(v any) string {
	var out []string
	list, _ := v.([]any)
	for _, sv := range list {
		m, _ := sv.(map[string]any)
		ip, _ := m["ip"].(map[string]any)
		out = append(out, fmt.Sprintf("%v:%v", ip["addr"], m["port"]))
	}
	return "[" + strings.Join(out, " ") + "]"
}
