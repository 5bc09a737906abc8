package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vipgate/vipgate/avisim/dataplane"
	"github.com/vipgate/vipgate/avisim/dataplane/echo"
	"github.com/vipgate/vipgate/certs"
)

// The demo's pods: 10.244.1.10 and 10.244.2.11 in the EndpointSlice, run as
// echo backends at 127.244.1.10 and 127.244.2.11, where avisim's data plane
// reaches them (avisim --servers-on-loopback), sharing one port.
var podAddrs = []struct{ name, ip, loopback string }{{"web-pod-1", "10.244.1.10", "127.244.1.10"}, {"web-pod-2", "10.244.2.11", "127.244.2.11"}}

// startPods starts the backends standing in for Service web's pods.
func startPods() ([]*echo.Server, error) {
	var pods []*echo.Server
	port := 0
	for _, p := range podAddrs {
		s, err := echo.New(p.name, p.loopback, port)
		if err != nil {
			for _, q := range pods {
				q.Close()
			}
			return nil, fmt.Errorf("starting the demo's pods: %w", err)
		}
		port = s.Port()
		pods = append(pods, s)
	}
	return pods, nil
}

// webEndpoints stands in for the endpoint controller, which this local API
// server does not run: the two pods of Service web, ready, at their port.
func webEndpoints(pods []*echo.Server) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-demo
  namespace: default
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{name: http, port: %d, protocol: TCP}]
endpoints:
`, pods[0].Port())
	for i := range pods {
		fmt.Fprintf(&b, "- addresses: [%s]\n  conditions: {ready: true}\n", podAddrs[i].ip)
	}
	return b.String()
}

// podServers is how the pool on the controller should list the pods.
func podServers(pods []*echo.Server) string {
	var out []string
	for i, p := range pods {
		out = append(out, net.JoinHostPort(podAddrs[i].ip, fmt.Sprint(p.Port())))
	}
	return "[" + strings.Join(out, " ") + "]"
}

func podNames(pods []*echo.Server) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name())
	}
	return out
}

// listener asks avisim's data plane where a VIP port is served, waiting for
// it to appear; it returns the address and the /admin/dataplane line.
func (d *demo) listener(ctx context.Context, vip string, port int) (string, string, error) {
	hc, err := d.simClient()
	if err != nil {
		return "", "", err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+d.aviAddr+"/admin/dataplane", nil)
		if err != nil {
			return "", "", err
		}
		resp, err := hc.Do(req)
		if err == nil {
			var st dataplane.Status
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if json.Unmarshal(body, &st) == nil {
				for _, l := range st.Listeners {
					if l.VIP == vip && l.Port == port && l.Protocol == "tcp" {
						return l.Address, l.Map, nil
					}
				}
			}
		}
		if time.Now().After(deadline) {
			return "", "", fmt.Errorf("avisim's data plane does not serve %s:%d", vip, port)
		}
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// until retries fetch until ok says the reply is what a user should get,
// for up to a minute: new pool servers take a health check to come up.
func until(ctx context.Context, fetch func() echo.Reply, ok func(echo.Reply) bool) echo.Reply {
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := fetch()
		if ok(r) || time.Now().After(deadline) || ctx.Err() != nil {
			return r
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func printAnswer(r echo.Reply) {
	b, _ := json.Marshal(r.Answer)
	fmt.Printf("  HTTP %d %s\n", r.Code, b)
}

// showServiceTraffic sends requests through the Service's VIP, which the
// demo seed puts on 10.50.0.0/24 and avisim serves on a loopback port.
func (d *demo) showServiceTraffic(ctx context.Context, ip string, pods []*echo.Server) bool {
	step("6. Traffic: a request to the Service's VIP reaches a pod")
	addr, line, err := d.listener(ctx, ip, 80)
	if err != nil {
		fmt.Printf("  !! %v\n", err)
		return false
	}
	fmt.Printf("  avisim /admin/dataplane: %s\n", line)
	fmt.Printf("\n$ curl --connect-to %s:80:%s http://%s/\n", ip, addr, ip)
	first := until(ctx, func() echo.Reply { return echo.Get(addr, ip, "/") },
		func(r echo.Reply) bool { return slices.Contains(podNames(pods), r.Answer.Backend) })
	if !slices.Contains(podNames(pods), first.Answer.Backend) {
		fmt.Printf("  !! no pod answered: %v\n", first)
		return false
	}
	printAnswer(first)
	var seen []string
	for i := 0; i < 4; i++ {
		seen = append(seen, echo.Get(addr, ip, "/").Answer.Backend)
	}
	fmt.Printf("  four more requests answered by: %s\n", strings.Join(seen, ", "))
	for _, p := range podNames(pods) {
		if !slices.Contains(seen, p) {
			fmt.Printf("  !! %s got none of them; the pool balances over both pods\n", p)
			return false
		}
	}
	return true
}

// showIngressTraffic creates the TLS Secret step 3 lacked, applies the same
// Ingress again and fetches https://shop.example.com/ through its VIP.
func (d *demo) showIngressTraffic(ctx context.Context, pods []*echo.Server) bool {
	const host = "shop.example.com"
	now := time.Now()
	ca, err := certs.NewCA("shop-demo-ca", now, 90*24*time.Hour)
	if err == nil {
		var srv certs.KeyPair
		if srv, err = certs.NewServing(ca, []string{host}, now, 90*24*time.Hour); err == nil {
			err = os.WriteFile(filepath.Join(d.dir, "shop.crt"), srv.CertPEM, 0o600)
			if err == nil {
				err = os.WriteFile(filepath.Join(d.dir, "shop.key"), srv.KeyPEM, 0o600)
			}
		}
	}
	if err != nil {
		step("7. HTTPS through the Ingress VIP")
		fmt.Printf("  !! making the certificate: %v\n", err)
		return false
	}
	ok := d.run(ctx, stepCheck{
		title:   "7. With its TLS Secret in place the Ingress of step 3 is admitted ...",
		args:    []string{"create", "secret", "tls", "shop-tls", "-n", "default", "--cert", filepath.Join(d.dir, "shop.crt"), "--key", filepath.Join(d.dir, "shop.key")},
		wantOut: []string{"secret/shop-tls created"},
	})
	ok = d.run(ctx, stepCheck{
		title:    "   ... the same manifest as in step 3",
		args:     []string{"apply", "-f", "-"},
		manifest: ingressMissingSecret,
		wantOut:  []string{"ingress.networking.k8s.io/shop created"},
	}) && ok
	ip := ""
	deadline := time.Now().Add(60 * time.Second)
	for ip == "" && time.Now().Before(deadline) {
		out, err := d.kubectl(ctx, "", "get", "ingress", "shop", "-n", "default", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		if err == nil {
			ip = strings.TrimSpace(out)
		}
		if ip == "" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	ok = d.run(ctx, stepCheck{
		title:   "   ... and gets a VIP",
		args:    []string{"get", "ingress", "shop", "-n", "default"},
		wantOut: []string{"shop", host, ip},
	}) && ip != "" && ok
	if ip == "" {
		return false
	}
	step("   ... and answers https://%s/ on it with the Secret's certificate", host)
	addr, line, err := d.listener(ctx, ip, 443)
	if err != nil {
		fmt.Printf("  !! %v\n", err)
		return false
	}
	fmt.Printf("  avisim /admin/dataplane: %s\n", line)
	_, port, _ := net.SplitHostPort(addr)
	fmt.Printf("\n$ curl --connect-to %s:443:127.0.0.1:%s https://%s/\n", host, port, host)
	r := until(ctx, func() echo.Reply { return echo.GetTLS(addr, host, "/", host) },
		func(r echo.Reply) bool { return slices.Contains(podNames(pods), r.Answer.Backend) })
	if r.Cert == nil || !slices.Contains(podNames(pods), r.Answer.Backend) {
		fmt.Printf("  !! no pod answered over HTTPS: %v\n", r)
		return false
	}
	fmt.Printf("  certificate subject: CN=%s (issuer CN=%s)\n", r.Cert.Subject.CommonName, r.Cert.Issuer.CommonName)
	printAnswer(r)
	want, _ := os.ReadFile(filepath.Join(d.dir, "shop.crt"))
	crts, err := certs.ParseCertificates(want)
	if err != nil || len(crts) == 0 || sha256.Sum256(crts[0].Raw) != sha256.Sum256(r.Cert.Raw) {
		fmt.Printf("  !! the VIP did not serve the Secret's certificate\n")
		return false
	}
	fp := sha256.Sum256(r.Cert.Raw)
	fmt.Printf("  the served certificate is the Secret's (sha256 %x...)\n", fp[:8])
	addr80, _, err := d.listener(ctx, ip, 80)
	if err != nil {
		fmt.Printf("  !! %v\n", err)
		return false
	}
	_, p80, _ := net.SplitHostPort(addr80)
	fmt.Printf("\n$ curl -I --connect-to %s:80:127.0.0.1:%s http://%s/\n", host, p80, host)
	hr := echo.Get(addr80, host, "/")
	fmt.Printf("  HTTP %d, Location: %s\n", hr.Code, hr.Header.Get("Location"))
	if hr.Code != http.StatusFound || hr.Header.Get("Location") != "https://"+host+"/" {
		fmt.Printf("  !! plain HTTP should be redirected to https://%s/\n", host)
		return false
	}
	return ok && r.Answer.Host == host
}
