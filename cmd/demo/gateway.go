package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/vipgate/vipgate/avisim/dataplane/echo"
)

// badGateway asks for an address outside every VIP network, as badService does.
const badGateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: shop-wrong-ip
  namespace: default
spec:
  gatewayClassName: avi-lb
  addresses: [{type: IPAddress, value: 10.10.0.5}]
  listeners: [{name: http, port: 80, protocol: HTTP}]
`

const gatewayAndRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: shop-gw
  namespace: default
spec:
  gatewayClassName: avi-lb
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
  namespace: default
spec:
  parentRefs: [{name: shop-gw}]
  hostnames: [www.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: web, port: 80}]
`

// showGateway walks through Gateway API: a Gateway with an unusable
// address refused, a Gateway and an HTTPRoute to the web Service admitted
// and programmed, and a request through the Gateway's VIP reaching a pod.
func (d *demo) showGateway(ctx context.Context, pods []*echo.Server) bool {
	ok := d.run(ctx, stepCheck{
		title:    "8. Gateway API: a Gateway asking for an address outside every VIP network is refused like a Service",
		args:     []string{"apply", "-f", "-"},
		manifest: badGateway, wantErr: true,
		wantOut: []string{`spec.addresses[0].value: Invalid value: "10.10.0.5": not inside any VIP network`, "10.50.0.10-10.50.0.200"},
	})
	ok = d.run(ctx, stepCheck{
		title:    "   A Gateway of class avi-lb and an HTTPRoute to the web Service are admitted ...",
		args:     []string{"apply", "-f", "-"},
		manifest: gatewayAndRoute,
		wantOut:  []string{"gateway.gateway.networking.k8s.io/shop-gw created", "httproute.gateway.networking.k8s.io/shop created"},
	}) && ok
	ip := ""
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := d.kubectl(ctx, "", "get", "gateway", "shop-gw", "-n", "default", "-o",
			`jsonpath={.status.addresses[0].value} {.status.conditions[?(@.type=="Programmed")].status}`)
		if f := strings.Fields(out); err == nil && len(f) == 2 && f[1] == "True" {
			ip = f[0]
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	ok = d.run(ctx, stepCheck{
		title:   "   ... and the Gateway is programmed with its VIP (a VsVip and a virtual service on the controller)",
		args:    []string{"get", "gateway", "shop-gw", "-n", "default"},
		wantOut: []string{"shop-gw", "avi-lb", ip, "True"},
	}) && ip != "" && ok
	if ip == "" {
		return false
	}
	ok = d.run(ctx, stepCheck{
		title:   "   The route reports where it attached",
		args:    []string{"get", "httproute", "shop", "-n", "default", "-o", `jsonpath={range .status.parents[0].conditions[*]}{.type}={.status} ({.reason}){"\n"}{end}`},
		wantOut: []string{"Accepted=True (Accepted)", "ResolvedRefs=True (ResolvedRefs)"},
	}) && ok
	step("   ... and http://www.example.com/ through the Gateway's VIP reaches a pod")
	addr, line, err := d.listener(ctx, ip, 80)
	if err != nil {
		fmt.Printf("  !! %v\n", err)
		return false
	}
	fmt.Printf("  avisim /admin/dataplane: %s\n", line)
	_, port, _ := net.SplitHostPort(addr)
	fmt.Printf("\n$ curl --connect-to www.example.com:80:127.0.0.1:%s http://www.example.com/\n", port)
	r := until(ctx, func() echo.Reply { return echo.Get(addr, "www.example.com", "/") },
		func(r echo.Reply) bool { return slices.Contains(podNames(pods), r.Answer.Backend) })
	if !slices.Contains(podNames(pods), r.Answer.Backend) {
		fmt.Printf("  !! no pod answered: %v\n", r)
		return false
	}
	printAnswer(r)
	return ok && r.Answer.Host == "www.example.com"
}
