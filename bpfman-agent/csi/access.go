package csi

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// grant is what a program's mapAccess lets one pod mount: each map, and
// whether the pod may write it.
type grant map[string]bpfleetv1.MapAccessMode

// grantFor merges the grants naming pod's namespace and service account;
// a map named twice is ReadWrite if either grant says so.
func grantFor(grants []bpfleetv1.MapAccessGrant, pod Pod) grant {
	g := grant{}
	for _, gr := range grants {
		if gr.Namespace != pod.Namespace || gr.ServiceAccount != pod.ServiceAccount {
			continue
		}
		for _, m := range gr.Maps {
			if g[string(m)] != bpfleetv1.MapReadWrite {
				g[string(m)] = accessOf(gr)
			}
		}
	}
	return g
}

// accessOf is a grant's access; empty (an entry written before the
// default) is Read.
func accessOf(gr bpfleetv1.MapAccessGrant) bpfleetv1.MapAccessMode {
	if gr.Access == bpfleetv1.MapReadWrite {
		return bpfleetv1.MapReadWrite
	}
	return bpfleetv1.MapRead
}

// decide says which maps the volume of req mounts and how, or why the pod
// may not (the message of a PermissionDenied): the maps it asks for, each
// granted, or every granted map; writable only if the volume is not
// read-only and every map in it is granted ReadWrite.
func decide(req request, grants []bpfleetv1.MapAccessGrant) ([]string, bpfleetv1.MapAccessMode, error) {
	g := grantFor(grants, req.Pod)
	if len(g) == 0 {
		return nil, "", fmt.Errorf("no mapAccess grant of %s names serviceaccount %s/%s: add {namespace: %s, serviceAccount: %s, maps: [...]} to its spec.mapAccess",
			req.Program, req.Pod.Namespace, req.Pod.ServiceAccount, req.Pod.Namespace, req.Pod.ServiceAccount)
	}
	names := req.Maps
	if len(names) == 0 {
		names = slices.Sorted(maps.Keys(g))
	}
	access := bpfleetv1.MapReadWrite
	if req.ReadOnly {
		access = bpfleetv1.MapRead
	}
	for _, name := range names {
		a, ok := g[name]
		if !ok {
			return nil, "", fmt.Errorf("the mapAccess of %s grants serviceaccount %s/%s maps %s, not %q",
				req.Program, req.Pod.Namespace, req.Pod.ServiceAccount, strings.Join(slices.Sorted(maps.Keys(g)), ", "), name)
		}
		if a == bpfleetv1.MapRead {
			access = bpfleetv1.MapRead
		}
	}
	return names, access, nil
}
