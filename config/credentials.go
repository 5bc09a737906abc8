package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Credentials authenticate vipgate to the controller. They come from a mounted
// Secret (AKO's avi-secret keys: username, password, authtoken,
// certificateAuthorityData), never from the settings file.
type Credentials struct {
	Username                 string
	Password                 string
	AuthToken                string
	CertificateAuthorityData string
}

// String never prints secrets, so a Credentials value is safe in logs and errors.
func (c Credentials) String() string {
	return fmt.Sprintf("Credentials{username: %q, password: %s, authtoken: %s, certificateAuthorityData: %s}",
		c.Username, redacted(c.Password), redacted(c.AuthToken), present(c.CertificateAuthorityData))
}

// GoString keeps %#v from printing secrets too.
func (c Credentials) GoString() string { return c.String() }

// Current implements CredentialSource: a Credentials value never changes.
func (c Credentials) Current() Credentials { return c }

func redacted(s string) string {
	if s == "" {
		return "<unset>"
	}
	return "<redacted>"
}

func present(s string) string {
	if s == "" {
		return "<unset>"
	}
	return "<set>"
}

// CredentialSource gives the credentials for the next login. The controller
// session asks it before every call, so an implementation must be cheap.
type CredentialSource interface {
	Current() Credentials
}

// The keys of AKO's avi-secret, one file each in a mounted Secret.
var credentialKeys = []string{"username", "password", "authtoken", "certificateAuthorityData"}

// LoadCredentials reads a Secret mounted as a folder (one file per key).
func LoadCredentials(dir string) (Credentials, error) {
	// kubelet publishes a Secret's files behind the ..data symlink and swaps
	// that link atomically on update; reading through the resolved link gives
	// one consistent version even when the swap happens between two keys.
	base := dir
	if target, err := filepath.EvalSymlinks(filepath.Join(dir, "..data")); err == nil {
		base = target
	}
	read := func(key string) (string, error) {
		b, err := os.ReadFile(filepath.Join(base, key))
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("reading credential key %s: %w", key, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	var c Credentials
	for _, key := range credentialKeys {
		v, err := read(key)
		if err != nil {
			return Credentials{}, err
		}
		switch key {
		case "username":
			c.Username = v
		case "password":
			c.Password = v
		case "authtoken":
			c.AuthToken = v
		case "certificateAuthorityData":
			c.CertificateAuthorityData = v
		}
	}
	if c.Username == "" {
		return Credentials{}, fmt.Errorf("credentials in %s: key username is missing", dir)
	}
	if c.Password == "" && c.AuthToken == "" {
		return Credentials{}, fmt.Errorf("credentials in %s: one of the keys password or authtoken is required", dir)
	}
	return c, nil
}

// DefaultCredentialsRecheck is how often a CredentialsDir looks at its folder
// again. kubelet itself takes up to a minute or two to publish a changed
// Secret, so a few seconds more do not matter, and reading four small files
// that often costs nothing.
const DefaultCredentialsRecheck = 5 * time.Second

// CredentialsDir is a CredentialSource that follows a mounted Secret: when
// the Secret changes (a rotated password or token, a new CA), the next login
// uses the new values without a restart. A folder that stops making sense
// (a key removed, unreadable files) keeps the last good credentials and
// reports the problem through Err, so a half-finished edit of the Secret does
// not take a running vipgate down.
type CredentialsDir struct {
	dir     string
	recheck time.Duration
	now     func() time.Time

	mu      sync.Mutex
	cur     Credentials
	checked time.Time
	err     error
}

// NewCredentialsDir reads dir once, failing as LoadCredentials does, and
// re-reads it at most every recheck (DefaultCredentialsRecheck when 0; a
// negative value re-reads on every call, for tests).
func NewCredentialsDir(dir string, recheck time.Duration) (*CredentialsDir, error) {
	c, err := LoadCredentials(dir)
	if err != nil {
		return nil, err
	}
	if recheck == 0 {
		recheck = DefaultCredentialsRecheck
	}
	d := &CredentialsDir{dir: dir, recheck: recheck, now: time.Now, cur: c}
	d.checked = d.now()
	return d, nil
}

// Current returns the folder's credentials, re-reading it when the last look
// is older than the recheck interval.
func (d *CredentialsDir) Current() Credentials {
	d.mu.Lock()
	defer d.mu.Unlock()
	if now := d.now(); d.recheck < 0 || now.Sub(d.checked) >= d.recheck {
		d.checked = now
		c, err := LoadCredentials(d.dir)
		d.err = err
		if err == nil {
			d.cur = c
		}
	}
	return d.cur
}

// Err is the problem of the last re-read, nil when it succeeded. The
// credentials Current returns are then the last good ones.
func (d *CredentialsDir) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// String names the folder; it never prints the credentials.
func (d *CredentialsDir) String() string { return "CredentialsDir{" + d.dir + "}" }

// WriteCredentialsDir writes c into dir the way kubelet publishes a Secret
// volume: the key files are symlinks into ..data, itself a symlink to a
// versioned folder, and a rewrite swaps ..data atomically (the shape whose
// changes CredentialsDir follows). Empty fields are left out. For tests and
// the demo, which stand in for kubelet.
func WriteCredentialsDir(dir string, c Credentials) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	version, err := os.MkdirTemp(dir, "..version-")
	if err != nil {
		return err
	}
	values := map[string]string{"username": c.Username, "password": c.Password, "authtoken": c.AuthToken,
		"certificateAuthorityData": c.CertificateAuthorityData}
	for _, key := range credentialKeys {
		if values[key] == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(version, key), []byte(values[key]), 0o600); err != nil {
			return err
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(version), tmp); err != nil {
		return err
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	for _, key := range credentialKeys {
		link := filepath.Join(dir, key)
		if values[key] == "" {
			_ = os.Remove(link)
			continue
		}
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", key), link); err != nil {
			return err
		}
	}
	if old != "" && old != filepath.Base(version) {
		return os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}
