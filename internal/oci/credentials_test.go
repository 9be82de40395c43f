package oci_test

import (
	"testing"

	"github.com/bpfleet/bpfleet/internal/oci"
)

func TestCredentialsFromDockerConfig(t *testing.T) {
	const alice = `{"username":"alice","password":"pw"}`
	const aliceAuth = `{"auth":"YWxpY2U6cHc="}` // alice:pw
	tests := []struct {
		name, config, host string
		want               *oci.Credentials
	}{
		{"auth field", `{"auths":{"r.io":` + aliceAuth + `}}`, "r.io", &oci.Credentials{Username: "alice", Password: "pw"}},
		{"username password", `{"auths":{"r.io":` + alice + `}}`, "r.io", &oci.Credentials{Username: "alice", Password: "pw"}},
		{"auth wins", `{"auths":{"r.io":{"username":"bob","password":"x","auth":"YWxpY2U6cHc="}}}`, "r.io", &oci.Credentials{Username: "alice", Password: "pw"}},
		{"url key", `{"auths":{"https://r.io:5000/v1/":` + alice + `}}`, "r.io:5000", &oci.Credentials{Username: "alice", Password: "pw"}},
		{"port must match", `{"auths":{"r.io:5000":` + alice + `}}`, "r.io", nil},
		{"wildcard", `{"auths":{"*.r.io":` + alice + `}}`, "eu.r.io", &oci.Credentials{Username: "alice", Password: "pw"}},
		{"exact beats wildcard", `{"auths":{"*.r.io":{"username":"w","password":"w"},"eu.r.io":` + alice + `}}`, "eu.r.io", &oci.Credentials{Username: "alice", Password: "pw"}},
		{"docker hub", `{"auths":{"https://index.docker.io/v1/":` + alice + `}}`, "docker.io", &oci.Credentials{Username: "alice", Password: "pw"}},
		{"legacy dockercfg", `{"r.io":` + alice + `}`, "r.io", &oci.Credentials{Username: "alice", Password: "pw"}},
		{"no entry", `{"auths":{"other.io":` + alice + `}}`, "r.io", nil},
		{"empty", `{}`, "r.io", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := oci.CredentialsFromDockerConfig([]byte(tt.config), tt.host)
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCredentialsFromDockerConfigErrors(t *testing.T) {
	for name, config := range map[string]string{
		"not json":      `{"auths":`,
		"auth not b64":  `{"auths":{"r.io":{"auth":"%%%"}}}`,
		"auth no colon": `{"auths":{"r.io":{"auth":"YWxpY2U="}}}`,
		"auths not map": `{"auths":[1]}`,
		"entry not map": `{"auths":{"r.io":"alice"}}`,
	} {
		if got, err := oci.CredentialsFromDockerConfig([]byte(config), "r.io"); err == nil {
			t.Errorf("%s: got %+v, want an error", name, got)
		}
	}
}
