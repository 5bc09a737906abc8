// Command demo is `make demo`: it starts a local kube-apiserver and etcd (the
// project's own builds), the simulated Avi Controller (bin/avisim, demo seed)
// and vipgate (bin/vipgate) with its webhooks registered over TLS, using a
// certificate chain laid out exactly as cert-manager writes it. Then it walks
// through what a user sees, printing each command and its real output, and
// exits 0 only when every step behaved as shown.
//
// With --keep-running (make demo-up) it leaves the environment up, prints the
// kubeconfig path and the controller address, and cleans up on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	var (
		binDir      = flag.String("bin", "bin", "folder with the vipgate and avisim binaries (make build)")
		workDir     = flag.String("dir", ".demo", "working folder for kubeconfig, certificates, settings and logs")
		keepRunning = flag.Bool("keep-running", false, "leave the environment running until interrupted")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			fail(err)
		}
		return a
	}
	d := &demo{bin: abs(*binDir), dir: abs(*workDir)}
	defer d.cleanup()
	if err := d.up(ctx); err != nil {
		clock.fail()
		clock.end()
		d.cleanup()
		fail(err)
	}
	if *keepRunning {
		clock.summary()
		fmt.Printf("\nvipgate demo environment is up.\n  export KUBECONFIG=%s\n  kubectl (same release as the API server): %s\n  avisim: https://%s (admin/admin; counters at /admin/counters, objects at /admin/objects?type=virtualservice)\n  logs: %s\nPress Ctrl-C to stop and clean up.\n",
			d.kubeconfig, d.kubectlPath, d.aviAddr, d.dir)
		<-ctx.Done()
		return
	}
	failed := d.walkthrough(ctx)
	clock.summary()
	if failed > 0 {
		d.cleanup()
		fmt.Fprintf(os.Stderr, "\ndemo: %d step(s) did not behave as expected; logs are in %s\n", failed, d.dir)
		os.Exit(1)
	}
	fmt.Println("\ndemo: every step behaved as expected.")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "demo:", err)
	os.Exit(1)
}
