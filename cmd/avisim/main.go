// Command avisim runs the simulated Avi Controller standalone, for demos and
// for trying vipgate without an Avi licence.
//
//	avisim --seed demo --listen 127.0.0.1:8443
//
// It prints "avisim listening on https://ADDR" once it accepts connections
// (after writing --ca-file, the CA clients verify it with),
// and stops cleanly on SIGINT/SIGTERM. --license-tier ESSENTIALS (or BASIC)
// runs a controller whose license refuses what that edition refuses. Virtual services answer on their VIPs
// (the data plane; --dataplane=false turns it off): VIPs in 127.0.0.0/8 at
// their own address, others on loopback ports listed at /admin/dataplane;
// pool servers at 10.244.1.10 are reached at 127.244.1.10
// (--servers-on-loopback), where the demo runs its stand-in pods.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vipgate/vipgate/avisim"
	"github.com/vipgate/vipgate/avisim/dataplane"
	"github.com/vipgate/vipgate/certs"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "avisim") {
			msg = "avisim: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("avisim", flag.ContinueOnError)
	seedArg := fs.String("seed", "demo", "seed: an embedded seed name ("+strings.Join(avisim.EmbeddedSeeds, ", ")+") or a YAML file")
	listen := fs.String("listen", "127.0.0.1:8443", "address to serve on")
	certFile := fs.String("tls-cert", "", "TLS certificate file (default: a self-signed certificate)")
	keyFile := fs.String("tls-key", "", "TLS key file")
	caFile := fs.String("ca-file", "", "write the CA certificate of the self-signed serving certificate to this file (PEM), for clients that verify it, e.g. vipgate's certificateAuthorityData")
	user := fs.String("username", "admin", "login user name")
	pass := fs.String("password", "admin", "login password")
	tier := fs.String("license-tier", "", "systemconfiguration.default_license_tier, overriding the seed's (ENTERPRISE, ESSENTIALS, BASIC, ENTERPRISE_WITH_CLOUD_SERVICES, ...)")
	dp := fs.Bool("dataplane", true, "serve virtual services on their VIPs (listed at /admin/dataplane)")
	serversOnLoopback := fs.Bool("servers-on-loopback", true, "reach pool servers outside 127.0.0.0/8 at 127.x.y.z (same last three octets): pods and nodes of a demo run on loopback")
	timeScale := fs.Float64("monitor-time-scale", 1, "multiply health monitor intervals and timeouts by this factor (e.g. 0.1 for demos)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*certFile == "") != (*keyFile == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if *caFile != "" && *certFile != "" {
		return errors.New("--ca-file writes the CA of the self-signed certificate; with --tls-cert the CA is yours already")
	}
	seed, err := avisim.LoadSeed(*seedArg)
	if err != nil {
		return err
	}
	if *tier != "" {
		// Clouds the seed creates take the tier too, as new clouds do on
		// the controller.
		seed.LicenseTier = *tier
	}

	var cert tls.Certificate
	var caPEM []byte
	if *certFile != "" {
		cert, err = tls.LoadX509KeyPair(*certFile, *keyFile)
	} else {
		cert, caPEM, err = selfSigned()
	}
	if err != nil {
		return err
	}
	if *caFile != "" {
		if err := os.WriteFile(*caFile, caPEM, 0o644); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	opts := avisim.Options{Seed: seed, Username: *user, Password: *pass, Host: addr}
	if *dp {
		opts.DataPlane = &dataplane.Options{MonitorTimeScale: *timeScale, ServersOnLoopback: *serversOnLoopback, Logf: func(format string, a ...any) {
			fmt.Printf(format+"\n", a...)
		}}
	}
	sim, err := avisim.New(opts)
	if err != nil {
		ln.Close()
		return err
	}
	defer sim.Close()
	srv := &http.Server{
		Handler:           sim.Handler(),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	fmt.Printf("avisim listening on https://%s\n", addr)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	fmt.Println("avisim stopped")
	return nil
}

// selfSigned issues a throwaway CA and a serving certificate for the local
// addresses avisim listens on, with the same helpers vipgate uses for its
// webhook, and returns the serving pair and the CA certificate (PEM) that
// clients must trust (--ca-file).
func selfSigned() (tls.Certificate, []byte, error) {
	now := time.Now()
	ca, err := certs.NewCA("avisim-ca", now, 365*24*time.Hour)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serving, err := certs.NewServing(ca, []string{"localhost", "avisim", "127.0.0.1", "::1"}, now, 365*24*time.Hour)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pair, err := tls.X509KeyPair(serving.CertPEM, serving.KeyPEM)
	return pair, ca.CertPEM, err
}
