package csi

import (
	"strings"
	"testing"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

func TestDecide(t *testing.T) {
	grants := []bpfleetv1.MapAccessGrant{
		{Namespace: "team", ServiceAccount: "flows", Maps: []bpfleetv1.MapName{"flows", "events"}},
		{Namespace: "team", ServiceAccount: "flows", Maps: []bpfleetv1.MapName{"filter"}, Access: bpfleetv1.MapReadWrite},
		{Namespace: "other", ServiceAccount: "flows", Maps: []bpfleetv1.MapName{"secret"}, Access: bpfleetv1.MapReadWrite},
	}
	pod := Pod{Namespace: "team", Name: "p", ServiceAccount: "flows"}
	ref := Ref{Kind: "XdpProgram", Name: "filter"}
	for _, tc := range []struct {
		name       string
		maps       []string
		readOnly   bool
		pod        Pod
		wantMaps   string
		wantAccess bpfleetv1.MapAccessMode
		wantErr    string
	}{
		{name: "every granted map, read-only", pod: pod, wantMaps: "events,filter,flows", wantAccess: bpfleetv1.MapRead},
		{name: "read-write map asked", maps: []string{"filter"}, pod: pod, wantMaps: "filter", wantAccess: bpfleetv1.MapReadWrite},
		{name: "read-write map, read-only volume", maps: []string{"filter"}, readOnly: true, pod: pod, wantMaps: "filter", wantAccess: bpfleetv1.MapRead},
		{name: "one read map makes it read-only", maps: []string{"filter", "flows"}, pod: pod, wantMaps: "filter,flows", wantAccess: bpfleetv1.MapRead},
		{name: "map of another grant", maps: []string{"secret"}, pod: pod, wantErr: `grants serviceaccount team/flows maps events, filter, flows, not "secret"`},
		{name: "other service account", pod: Pod{Namespace: "team", ServiceAccount: "default"}, wantErr: "no mapAccess grant of xdpprogram/filter names serviceaccount team/default"},
		{name: "other namespace", pod: Pod{Namespace: "elsewhere", ServiceAccount: "flows"}, wantErr: "names serviceaccount elsewhere/flows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			maps, access, err := decide(request{Program: ref, Maps: tc.maps, ReadOnly: tc.readOnly, Pod: tc.pod}, grants)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || strings.Join(maps, ",") != tc.wantMaps || access != tc.wantAccess {
				t.Errorf("got %v %s %v, want %s %s", maps, access, err, tc.wantMaps, tc.wantAccess)
			}
		})
	}
}
