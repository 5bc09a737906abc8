package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vipgate/vipgate/check"
)

// Exit statuses of the subcommands.
const (
	exitOK      = 0
	exitRefused = 1 // check: at least one object refused; export: the controller could not be read
	exitUsage   = 2 // bad flags, unreadable or invalid input
)

// subcommand runs `vipgate check` or `vipgate inventory ...` when args name
// one; ok is false for the operator's own flags.
func subcommand(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int, ok bool) {
	flag.CommandLine.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: vipgate [flags]            run the operator
       vipgate check -h             validate manifests offline with the webhooks' rules
       vipgate inventory export -h  write the controller inventory check reads

Flags of the operator:
`)
		flag.PrintDefaults()
	}
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case "check":
		return checkCommand(args[1:], stdin, stdout, stderr), true
	case "inventory":
		return inventoryCommand(args[1:], stdout, stderr), true
	}
	return 0, false
}

// listFlag collects a repeatable flag; each value may hold several items
// separated by commas (kubectl's -f a.yaml,b.yaml).
type listFlag struct {
	values []string
	set    bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }

func (l *listFlag) Set(v string) error {
	if !l.set {
		l.values, l.set = nil, true // the first use replaces the default
	}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			l.values = append(l.values, s)
		}
	}
	return nil
}

const checkUsage = `Usage: vipgate check --settings FILE [--inventory FILE] -f PATH [-f PATH ...] [flags]

Validates Kubernetes manifests offline with vipgate's rule book, the functions
its admission webhooks call, and prints what kubectl apply would print:
"Warning: ..." lines and, for each refused object, the webhook's message
("Service \"web\" is invalid: spec.loadBalancerIP: Invalid value: ..."), each
after the object's file and line. A summary line ends the output.

Objects of the set count against each other: each Service, Ingress and
AviInfraSetting is checked as a create into a cluster that holds all the
other objects of the set (and nothing else), so two Services asking for one
address, or two Services whose Avi names meet (team/a-web and team-a/web), are
both refused, and an Ingress finds its TLS Secret only in the set (a Secret's
data is summarised and never printed). The set is read as created: status is
ignored. AviInfraSettings of the set are Accepted or Rejected as their
reconciler would decide them against the inventory, and Services selecting one
read that.

Only objects vipgate would judge are checked: Services of type LoadBalancer
of class ako.vmware.com/avi-lb (or of no class with
L4Settings.defaultLBController), Ingresses of an IngressClass of controller
ako.vmware.com/avi-lb (the set's IngressClasses, and those named by
--ingress-class), in namespaces AKOSettings.namespaceSelector and
blockedNamespaceList leave in; the others are counted as skipped (-v says
why). Namespaces, Secrets, IngressClasses and cert-manager Certificates of
the set are read; other kinds are ignored.

--settings takes vipgate's settings file or a Helm values file of the
vipgate chart (or AKO's): when the file has top-level keys other than AKO's
sections (AKOSettings, NetworkSettings, L7Settings, L4Settings,
ControllerSettings, nodePortSelector), the keys vipgate knows are picked from
those sections, as the chart renders its settings, and every other key
(avicredentials, vipgate, image, ...) is ignored (-v lists them). The
chart's IngressClass (vipgate.ingressClass) is then the default of
--ingress-class. ControllerSettings.controllerHost is not needed.

--inventory takes a file written by vipgate inventory export. Without it
only the checks that need no controller run (addresses, families, shared-VIP
groups, Avi names, TLS Secrets, hosts), with the warning the webhooks print
while their inventory is not loaded. Its age is printed; --max-inventory-age
refuses an older file.

Exit status: 0 nothing refused (warnings allowed), 1 something refused,
2 usage error (bad flags, unreadable files, invalid YAML, duplicate objects).

Example:
  vipgate inventory export --settings values.yaml --credentials-dir creds/ > inventory.json
  vipgate check --settings values.yaml --inventory inventory.json -f deploy/

Flags:
`

func checkCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vipgate check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), checkUsage)
		fs.PrintDefaults()
	}
	var files, classes listFlag
	var (
		settingsPath  = fs.String("settings", "", "vipgate settings file or Helm values file (required)")
		inventoryPath = fs.String("inventory", "", "inventory file written by vipgate inventory export; without it, only checks that need no controller run")
		namespace     = fs.String("namespace", "default", "namespace of objects that name none (kubectl's current namespace)")
		clusterID     = fs.String("cluster-id", "", "the cluster's identity, the UID of Namespace kube-system, to tell this cluster's controller objects from another's with the same clusterName (optional)")
		maxAge        = fs.Duration("max-inventory-age", 0, "refuse an inventory file older than this (0: any age)")
		verbose       = fs.Bool("verbose", false, "also list admitted and skipped objects, and the ignored keys of a Helm values file")
	)
	fs.Var(&files, "f", "manifest file, folder (recursive: *.yaml, *.yml, *.json) or - for stdin; repeatable, comma-separated")
	fs.Var(&files, "filename", "same as -f")
	fs.Var(&classes, "ingress-class", "IngressClasses of vipgate's that exist in the cluster besides those of the set; repeatable, comma-separated, empty for none; the first is the default class when L7Settings.defaultIngController is true (default: the chart's class of a Helm values file, else avi-lb)")
	fs.StringVar(namespace, "n", "default", "same as --namespace")
	fs.BoolVar(verbose, "v", false, "same as --verbose")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "vipgate check: "+format+"\n", a...)
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q; name manifests with -f", fs.Arg(0))
	}
	if *settingsPath == "" {
		return usage("--settings is required")
	}
	if len(files.values) == 0 {
		return usage("no manifests: name files or folders with -f (- for stdin)")
	}
	sf, err := check.LoadSettings(*settingsPath)
	if err != nil {
		return usage("%v", err)
	}
	settings := sf.Settings
	settings.ClusterID = *clusterID
	if *verbose && len(sf.Ignored) > 0 {
		fmt.Fprintf(stderr, "settings: read %s as Helm values; ignored keys: %s\n", *settingsPath, strings.Join(sf.Ignored, ", "))
	}

	opts := check.Options{Settings: settings, IngressClasses: sf.IngressClasses(classes.values, classes.set)}
	if *inventoryPath != "" {
		f, err := os.Open(*inventoryPath)
		if err != nil {
			return usage("%v", err)
		}
		snap, file, err := check.ReadInventory(f)
		_ = f.Close()
		if err != nil {
			return usage("%s: %v", *inventoryPath, err)
		}
		if err := file.MatchSettings(settings); err != nil {
			return usage("%s: %v", *inventoryPath, err)
		}
		age := time.Since(snap.FetchedAt).Round(time.Second)
		fmt.Fprintf(stderr, "inventory: cloud %q", snap.Cloud.Name)
		if file.Controller != "" {
			fmt.Fprintf(stderr, " of controller %s", file.Controller)
		}
		fmt.Fprintf(stderr, ", fetched %s (%s ago)\n", snap.FetchedAt.UTC().Format(time.RFC3339), age)
		if *maxAge > 0 && age > *maxAge {
			return usage("%s is %s old, older than --max-inventory-age %s; export it again", *inventoryPath, age, *maxAge)
		}
		opts.Inventory = snap
	}
	objs, err := check.ReadPaths(files.values, stdin, *namespace)
	if err != nil {
		return usage("%v", err)
	}
	rep := check.Run(context.Background(), objs, opts)
	if err := rep.Write(stdout, *verbose); err != nil {
		fmt.Fprintf(stderr, "vipgate check: %v\n", err)
		return exitUsage
	}
	if rep.Refused() > 0 {
		return exitRefused
	}
	return exitOK
}
