package oci

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"strings"
)

// dockerConfig is the content of a kubernetes.io/dockerconfigjson Secret
// (".dockerconfigjson"); the legacy kubernetes.io/dockercfg format is the
// Auths map alone.
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

// dockerHubKeys are the keys under which docker login stores Docker Hub
// credentials.
var dockerHubKeys = []string{dockerHub, "index.docker.io", dockerHubAPIHost}

// CredentialsFromDockerConfig returns the credentials for registryHost
// ("host" or "host:port") in the content of a kubernetes.io/dockerconfigjson
// (or legacy kubernetes.io/dockercfg) Secret. Keys may be bare hosts, URLs
// ("https://host/v1/") or wildcards ("*.example.com"), as the kubelet
// accepts them. It returns nil, nil when no entry matches.
func CredentialsFromDockerConfig(dockerConfigJSON []byte, registryHost string) (*Credentials, error) {
	auths, err := parseDockerConfig(dockerConfigJSON)
	if err != nil {
		return nil, err
	}
	key, ok := lookup(auths, registryHost)
	if !ok {
		return nil, nil
	}
	return auths[key].credentials(key)
}

// lookup returns the key for host, preferring an exact key to a wildcard,
// and the first in sorted order among equals so the choice is stable.
func lookup(auths map[string]dockerAuth, host string) (string, bool) {
	keys := slices.Sorted(maps.Keys(auths))
	for _, wildcard := range []bool{false, true} {
		for _, k := range keys {
			pattern := keyHost(k)
			if strings.Contains(pattern, "*") == wildcard && hostMatches(pattern, host) {
				return k, true
			}
		}
	}
	return "", false
}

func parseDockerConfig(b []byte) (map[string]dockerAuth, error) {
	var cfg dockerConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("parse docker config: %w", err)
	}
	if cfg.Auths != nil {
		return cfg.Auths, nil
	}
	var legacy map[string]dockerAuth
	if err := json.Unmarshal(b, &legacy); err != nil {
		return nil, fmt.Errorf("parse docker config: %w", err)
	}
	return legacy, nil
}

func (a dockerAuth) credentials(key string) (*Credentials, error) {
	if a.Auth == "" {
		return &Credentials{Username: a.Username, Password: a.Password}, nil
	}
	raw, err := base64.StdEncoding.DecodeString(a.Auth)
	if err != nil {
		return nil, fmt.Errorf("docker config entry %q: auth is not base64: %w", key, err)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, fmt.Errorf(`docker config entry %q: auth is not base64 of "user:password"`, key)
	}
	return &Credentials{Username: user, Password: pass}, nil
}

// keyHost returns the host[:port] of a docker config key, which may be a URL.
func keyHost(key string) string {
	if strings.Contains(key, "://") {
		if u, err := url.Parse(key); err == nil {
			return u.Host
		}
	}
	host, _, _ := strings.Cut(key, "/")
	return host
}

func hostMatches(pattern, host string) bool {
	if isDockerHub(pattern) && isDockerHub(host) {
		return true
	}
	if strings.Contains(pattern, "*") {
		ok, err := path.Match(pattern, host)
		return err == nil && ok
	}
	return pattern == host
}

func isDockerHub(host string) bool {
	for _, k := range dockerHubKeys {
		if host == k {
			return true
		}
	}
	return false
}
