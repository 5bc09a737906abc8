package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets a test run the real command: the test binary re-executes
// itself as vipgate when VIPGATE_RUN_MAIN is set.
func TestMain(m *testing.M) {
	if os.Getenv("VIPGATE_RUN_MAIN") == "1" {
		os.Args = append([]string{"vipgate"}, strings.Fields(os.Getenv("VIPGATE_ARGS"))...)
		os.Exit(run())
	}
	os.Exit(m.Run())
}

func runVipgate(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VIPGATE_RUN_MAIN=1", "VIPGATE_ARGS="+strings.Join(args, " "))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("running vipgate: %v", err)
	}
	return string(out), 0
}

func TestBadSettingsListEveryMistakeAndExitNonZero(t *testing.T) {
	dir := t.TempDir()
	settings := filepath.Join(dir, "settings.yaml")
	if err := os.WriteFile(settings, []byte(`
AKOSettings:
  clusterName: "not a valid name"
L7Settings:
  shardVSSize: HUGE
L4Settings:
  autoFQDN: short
ControllerSettings:
  cloudName: ""
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runVipgate(t, "--settings="+settings, "--credentials-dir="+dir)
	if code != 2 {
		t.Fatalf("exit code %d, want 2; output:\n%s", code, out)
	}
	for _, want := range []string{
		"invalid settings (5 problems):",
		"AKOSettings.clusterName: must match ^[a-zA-Z0-9-_]+$",
		`L7Settings.shardVSSize: must be one of [LARGE, MEDIUM, SMALL, DEDICATED], got "HUGE"`,
		`L4Settings.autoFQDN: must be one of [default, flat, disabled], got "short"`,
		"ControllerSettings.cloudName: is required",
		"ControllerSettings.controllerHost: is required",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestMissingCredentialsExitNonZero(t *testing.T) {
	dir := t.TempDir()
	settings := filepath.Join(dir, "settings.yaml")
	if err := os.WriteFile(settings, []byte("AKOSettings: {clusterName: demo}\nControllerSettings: {controllerHost: 127.0.0.1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "username"), []byte("admin"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runVipgate(t, "--settings="+settings, "--credentials-dir="+dir)
	if code != 2 || !strings.Contains(out, "one of the keys password or authtoken is required") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}

// TestMissingClusterNameRefused: there is no default cluster name (two
// clusters that both kept one would meet on the controller): a settings file
// without one is refused at start-up, naming the key.
func TestMissingClusterNameRefused(t *testing.T) {
	dir := t.TempDir()
	settings := filepath.Join(dir, "settings.yaml")
	if err := os.WriteFile(settings, []byte("ControllerSettings: {controllerHost: 127.0.0.1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runVipgate(t, "--settings="+settings, "--credentials-dir="+dir)
	if code != 2 || !strings.Contains(out, "AKOSettings.clusterName: is required") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}
