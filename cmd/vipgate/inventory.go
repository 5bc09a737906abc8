package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/vipgate/vipgate/avi/inventory/loader"
	"github.com/vipgate/vipgate/avi/session"
	"github.com/vipgate/vipgate/check"
	"github.com/vipgate/vipgate/config"
)

const inventoryUsage = `Usage: vipgate inventory export --settings FILE --credentials-dir DIR > inventory.json

Reads the controller inventory the way the operator does (the cloud named by
ControllerSettings.cloudName, its VIP networks with subnets and static VIP
ranges, SE groups with labels, every VIP address and VsVip in use) and writes
it as JSON for vipgate check --inventory. The file holds names, addresses and
ownership markers only: no credentials, nothing else from the controller.
Exports of the same controller state are byte-identical.

--settings takes vipgate's settings file or a Helm values file, as vipgate
check does (ControllerSettings.controllerHost is required here).
--credentials-dir is a folder with AKO's avi-secret keys as files: username,
password or authtoken, and certificateAuthorityData (without it the
controller's certificate is not verified, as with AKO).

Exit status: 0 written, 1 the controller could not be read (or the file not
written), 2 usage error.

Flags:
`

func inventoryCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "export" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprint(stderr, inventoryUsage)
			return exitOK
		}
		fmt.Fprintln(stderr, "vipgate inventory: the only subcommand is export (vipgate inventory export -h)")
		return exitUsage
	}
	fs := flag.NewFlagSet("vipgate inventory export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), inventoryUsage)
		fs.PrintDefaults()
	}
	var (
		settingsPath   = fs.String("settings", "", "vipgate settings file or Helm values file (required)")
		credentialsDir = fs.String("credentials-dir", "", "folder of the controller credentials: username, password or authtoken, certificateAuthorityData (required)")
		timeout        = fs.Duration("timeout", 2*time.Minute, "bound on logging in and reading the inventory")
	)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "vipgate inventory export: "+format+"\n", a...)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usage("unexpected argument %q", fs.Arg(0))
	case *settingsPath == "":
		return usage("--settings is required")
	case *credentialsDir == "":
		return usage("--credentials-dir is required")
	}
	sf, err := check.LoadSettings(*settingsPath)
	if err != nil {
		return usage("%v", err)
	}
	settings := sf.Settings
	if settings.ControllerSettings.ControllerHost == "" {
		return usage("ControllerSettings.controllerHost is required in %s", *settingsPath)
	}
	creds, err := config.LoadCredentials(*credentialsDir)
	if err != nil {
		return usage("%v", err)
	}
	if creds.CertificateAuthorityData == "" {
		fmt.Fprintf(stderr, "vipgate inventory export: no certificateAuthorityData in %s: the controller's certificate is not verified\n", *credentialsDir)
	}
	// alb-sdk logs a line per request on stderr; stderr (the writer given)
	// keeps this command's own messages.
	session.SilenceSDKInfoLogs()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "vipgate inventory export: reading the controller at %s: %v\n", settings.ControllerSettings.ControllerHost, err)
		return exitRefused
	}
	c, err := session.New(ctx, settings.ControllerSettings, creds, session.Options{PoolSize: 2})
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	snap, err := loader.Load(ctx, c, settings)
	if err != nil {
		return fail(err)
	}
	if err := check.WriteInventory(stdout, snap, c.Host(), c.Tenant()); err != nil {
		fmt.Fprintf(stderr, "vipgate inventory export: writing the inventory: %v\n", err)
		return exitRefused
	}
	fmt.Fprintf(stderr, "inventory of cloud %q: %d networks, %d SE groups, %d VIPs in use, %d VsVips\n",
		snap.Cloud.Name, len(snap.Networks), len(snap.SEGroups), len(snap.InUse), len(snap.VsVips))
	return exitOK
}
