package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCredentialsStringHasNoSecrets(t *testing.T) {
	c := Credentials{Username: "admin", Password: "pw-secret", AuthToken: "tok-secret", CertificateAuthorityData: "-----BEGIN CERTIFICATE-----"}
	want := `Credentials{username: "admin", password: <redacted>, authtoken: <redacted>, certificateAuthorityData: <set>}`
	for _, got := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	if got := (Credentials{Username: "u"}).String(); got != `Credentials{username: "u", password: <unset>, authtoken: <unset>, certificateAuthorityData: <unset>}` {
		t.Errorf("empty fields: %s", got)
	}
}

func TestInsecureSkipVerifySetting(t *testing.T) {
	for yaml, want := range map[string]bool{
		validYAML: false,
		validYAML + "  insecureSkipVerify: true\n":    true,
		validYAML + "  insecureSkipVerify: 'true'\n":  true,
		validYAML + "  insecureSkipVerify: \"false\"": false,
	} {
		s, err := Parse([]byte(yaml))
		if err != nil {
			t.Fatalf("%q: %v", yaml, err)
		}
		if bool(s.ControllerSettings.InsecureSkipVerify) != want {
			t.Errorf("%q: insecureSkipVerify %v, want %v", yaml, s.ControllerSettings.InsecureSkipVerify, want)
		}
	}
}

// WriteCredentialsDir lays files out as kubelet does, and LoadCredentials
// reads them through the ..data link.
func TestWriteCredentialsDirLayout(t *testing.T) {
	dir := t.TempDir()
	c := Credentials{Username: "admin", Password: "one", CertificateAuthorityData: "CA"}
	if err := WriteCredentialsDir(dir, c); err != nil {
		t.Fatal(err)
	}
	c.Password, c.AuthToken = "", "token"
	if err := WriteCredentialsDir(dir, c); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..version-") {
			names = append(names, "..version-*")
		} else {
			names = append(names, e.Name())
		}
	}
	if got, want := strings.Join(names, " "), "..data ..version-* authtoken certificateAuthorityData username"; got != want {
		t.Fatalf("folder holds %s, want %s (old versions and removed keys gone)", got, want)
	}
	if target, _ := os.Readlink(filepath.Join(dir, "username")); target != filepath.Join("..data", "username") {
		t.Fatalf("username links to %q", target)
	}
	got, err := LoadCredentials(dir)
	if err != nil || got != c {
		t.Fatalf("LoadCredentials = %v, %v; want %v", got, err, c)
	}
}

// A CredentialsDir follows the folder: changes show after the recheck
// interval, and a broken folder keeps the last good credentials.
func TestCredentialsDirFollowsTheSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(c Credentials) {
		t.Helper()
		if err := WriteCredentialsDir(dir, c); err != nil {
			t.Fatal(err)
		}
	}
	first := Credentials{Username: "admin", Password: "one"}
	write(first)
	d, err := NewCredentialsDir(dir, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	d.now, d.checked = func() time.Time { return now }, now

	second := Credentials{Username: "admin", Password: "two", CertificateAuthorityData: "CA"}
	write(second)
	steps := []struct {
		name    string
		advance time.Duration
		change  func()
		want    Credentials
		wantErr string
	}{
		{name: "within the recheck interval the old value stays", advance: 4 * time.Second, want: first},
		{name: "after it the new one shows", advance: time.Second, want: second},
		{name: "a folder without password or token keeps the last good value", advance: 5 * time.Second,
			change: func() { write(Credentials{Username: "admin"}) }, want: second,
			wantErr: "credentials in " + dir + ": one of the keys password or authtoken is required"},
		{name: "a fixed folder is taken again", advance: 5 * time.Second,
			change: func() { write(Credentials{Username: "other", AuthToken: "tok"}) }, want: Credentials{Username: "other", AuthToken: "tok"}},
	}
	for _, s := range steps {
		if s.change != nil {
			s.change()
		}
		now = now.Add(s.advance)
		if got := d.Current(); got != s.want {
			t.Errorf("%s: got %v, want %v", s.name, got, s.want)
		}
		gotErr := ""
		if err := d.Err(); err != nil {
			gotErr = err.Error()
		}
		if gotErr != s.wantErr {
			t.Errorf("%s: Err() = %q, want %q", s.name, gotErr, s.wantErr)
		}
	}
	if s := d.String(); strings.Contains(s, "tok") || s != "CredentialsDir{"+dir+"}" {
		t.Errorf("String() = %s", s)
	}
}

func TestNewCredentialsDirFailsLikeLoadCredentials(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "username"), []byte("admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewCredentialsDir(dir, 0)
	if want := "credentials in " + dir + ": one of the keys password or authtoken is required"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	// A plain folder (no ..data link) works too.
	if err := os.WriteFile(filepath.Join(dir, "password"), []byte("pw\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := NewCredentialsDir(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Current(); got != (Credentials{Username: "admin", Password: "pw"}) {
		t.Fatalf("got %v", got)
	}
}
