package benchkit

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// WithDatabase is the Postgres URL raw with its database replaced by name.
func WithDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", fmt.Errorf("%s: want a postgres:// URL", u.Redacted())
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// FreePort is a TCP port on 127.0.0.1 that nothing listens on right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Without is env (KEY=VALUE entries) less the entries of key.
func Without(env []string, key string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, key+"=") })
}
