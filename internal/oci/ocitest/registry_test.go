package ocitest_test

import (
	"net/http"
	"testing"

	"github.com/bpfleet/bpfleet/internal/oci"
	"github.com/bpfleet/bpfleet/internal/oci/ocitest"
)

func TestStartRefusesNonLoopback(t *testing.T) {
	if _, _, err := ocitest.Start("0.0.0.0:0", nil); err == nil {
		t.Fatal("Start on 0.0.0.0 succeeded")
	}
}

func TestBasicAuthChallenge(t *testing.T) {
	creds := &oci.Credentials{Username: "u", Password: "p"}
	host, stop, err := ocitest.Start("127.0.0.1:0", creds)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	defer stop() // stop is idempotent
	for _, tt := range []struct {
		user, pass string
		want       int
	}{{"", "", http.StatusUnauthorized}, {"u", "x", http.StatusUnauthorized}, {"u", "p", http.StatusOK}} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/", nil)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s:%s: status %d, want %d", tt.user, tt.pass, resp.StatusCode, tt.want)
		}
		if tt.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
			t.Error("401 without a WWW-Authenticate challenge")
		}
	}
}
