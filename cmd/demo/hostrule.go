package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// hostRule is a HostRule for the Ingress's host naming waf as its WAF policy.
func hostRule(waf string) string {
	return `apiVersion: ako.vmware.com/v1beta1
kind: HostRule
metadata:
  name: shop
  namespace: default
spec:
  virtualhost:
    fqdn: shop.example.com
    wafPolicy: ` + waf + `
    applicationProfile: demo-http
`
}

// showHostRule is step 8: a HostRule naming a WAF policy the controller
// does not have is refused at kubectl apply; the right one is admitted,
// accepted, and the host's SNI virtual service carries it.
func (d *demo) showHostRule(ctx context.Context) bool {
	ok := d.run(ctx, stepCheck{
		title:    "8. A HostRule naming a WAF policy the controller does not have: refused",
		args:     []string{"apply", "-f", "-"},
		manifest: hostRule("shop-waf"), wantErr: true,
		wantOut: []string{`spec.virtualhost.wafPolicy: Invalid value: "shop-waf": no WAF policy named "shop-waf" exists on the controller`, "demo-waf"},
	})
	ok = d.run(ctx, stepCheck{
		title:    "   ... the Avi admin's demo-waf is admitted",
		args:     []string{"apply", "-f", "-"},
		manifest: hostRule("demo-waf"),
		wantOut:  []string{"hostrule.ako.vmware.com/shop created"},
	}) && ok
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := d.kubectl(ctx, "", "get", "hostrule", "shop", "-n", "default", "-o", "jsonpath={.status.status}")
		if err == nil && strings.TrimSpace(out) == "Accepted" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	ok = d.run(ctx, stepCheck{
		title:   "   ... and accepted",
		args:    []string{"get", "hostrule", "shop", "-n", "default"},
		wantOut: []string{"shop.example.com", "Accepted"},
	}) && ok
	step("   ... and the host's SNI virtual service on the controller carries it")
	const child = "demo--shop.example.com"
	var waf, app string
	for time.Now().Before(deadline) && waf != "demo-waf" {
		objs, err := d.simObjects(ctx, "virtualservice")
		if err != nil {
			fmt.Printf("  !! reading virtual services: %v\n", err)
			return false
		}
		for _, o := range objs {
			if o["name"] == child {
				waf, app = d.refName(ctx, "wafpolicy", o["waf_policy_ref"]), d.refName(ctx, "applicationprofile", o["application_profile_ref"])
			}
		}
		if waf != "demo-waf" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	fmt.Printf("  %-15s %-32s waf_policy_ref %s, application_profile_ref %s\n", "virtualservice", child, waf, app)
	if waf != "demo-waf" || app != "demo-http" {
		fmt.Printf("  !! the SNI virtual service should name demo-waf and demo-http\n")
		return false
	}
	return ok
}

// refName resolves a reference the controller returned to the name of its object.
func (d *demo) refName(ctx context.Context, typ string, ref any) string {
	s, _ := ref.(string)
	if _, n, ok := strings.Cut(s, "#"); ok {
		return n
	}
	uuid := s[strings.LastIndex(s, "/")+1:]
	objs, err := d.simObjects(ctx, typ)
	if err != nil {
		return s
	}
	for _, o := range objs {
		if o["uuid"] == uuid {
			n, _ := o["name"].(string)
			return n
		}
	}
	return s
}
