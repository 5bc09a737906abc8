package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	return fmt.Sprintf("Credentials{username: %q, password: %s, authtoken: %s}", c.Username, redacted(c.Password), redacted(c.AuthToken))
}

// GoString keeps %#v from printing secrets too.
func (c Credentials) GoString() string { return c.String() }

func redacted(s string) string {
	if s == "" {
		return "<unset>"
	}
	return "<redacted>"
}

// LoadCredentials reads a Secret mounted as a folder (one file per key).
func LoadCredentials(dir string) (Credentials, error) {
	read := func(key string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, key))
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("reading credential key %s: %w", key, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	var c Credentials
	var err error
	for key, dst := range map[string]*string{
		"username": &c.Username, "password": &c.Password, "authtoken": &c.AuthToken,
		"certificateAuthorityData": &c.CertificateAuthorityData,
	} {
		if *dst, err = read(key); err != nil {
			return Credentials{}, err
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
