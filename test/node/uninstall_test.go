package node

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// Uninstalling in the README's order — every bpfleet resource users made
// (programs, applications, MapPolicies) deleted and waited for, then
// `kubectl delete -k` of the install — leaves nothing: no program in the
// kernel, nothing under the agent's pin root, no bpfleet resource. The
// test installs bpfleet again afterwards for the tests that follow.
func TestUninstallInTheDocumentedOrder(t *testing.T) {
	p := applySample(t, "uninstall-counter")
	id := reportEntry(t, p.UID).ProgramID
	t.Cleanup(installAgain(t))

	out, err := install.Kubectl("api-resources", "--api-group=bpfleet.io", "-o", "name")
	if err != nil {
		t.Fatalf("kubectl api-resources: %v\n%s", err, out)
	}
	var kinds []string
	for _, r := range strings.Fields(out) {
		if !strings.HasPrefix(r, "nodeprogram") {
			kinds = append(kinds, r)
		}
	}
	if out, err := install.Kubectl("delete", strings.Join(kinds, ","), "--all", "--wait", "--timeout=2m"); err != nil {
		t.Fatalf("kubectl delete %s --all: %v\n%s", strings.Join(kinds, ","), err, out)
	}
	if out, err := install.Kubectl("delete", "-k", install.sub("install"), "--wait", "--timeout=3m"); err != nil {
		t.Fatalf("kubectl delete -k: %v\n%s", err, out)
	}
	checkNothingLeft(t, id)
}

// Deleting the whole install at once, programs running (`kubectl delete
// -k`, as a GitOps prune does), ends with nothing stuck and nothing left:
// the programs' CRD, deleted with the rest, makes the operator release
// them at once instead of waiting for nodes (its access goes within the
// same second), the agent unloads what it runs as the sets' CRD goes, and
// the deletion completes — CRDs, namespace, everything.
func TestUninstallAllAtOnce(t *testing.T) {
	var ids []uint32
	for _, name := range []string{"at-once-a", "at-once-b", "at-once-c"} {
		ids = append(ids, reportEntry(t, applySample(t, name).UID).ProgramID)
	}
	t.Cleanup(installAgain(t))
	times := watchUninstall(t)

	if out, err := install.Kubectl("delete", "-k", install.sub("install"), "--wait", "--timeout=2m"); err != nil {
		t.Fatalf("kubectl delete -k with programs running: %v\n%s", err, out)
	}
	checkNothingLeft(t, ids...)
	released, access := times()
	t.Logf("the operator released the last program %v before its access went (its ServiceAccount or ClusterRoleBinding deleted)",
		access.Sub(released).Round(time.Millisecond))
	if out, err := install.Kubectl("get", "namespace", "bpfleet-system", "--ignore-not-found", "-o", "name"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("the install's namespace is still there: %q (%v)", out, err)
	}
}

// installAgain is a cleanup installing bpfleet again, for the tests that
// follow an uninstall.
func installAgain(t *testing.T) func() {
	return func() {
		if err := install.Install(context.Background(), install.Images); err != nil {
			t.Errorf("installing again: %v", err)
		}
	}
}

// checkNothingLeft checks that bpfleet is gone from the node and the
// API: none of the programs ids in the kernel, nothing under the agent's
// pin root, no bpfleet resource served, none of its cluster-wide objects.
func checkNothingLeft(t *testing.T, ids ...uint32) {
	t.Helper()
	for _, id := range ids {
		if exec.Command("bpftool", "prog", "show", "id", strconv.Itoa(int(id))).Run() == nil {
			t.Errorf("program %d still loaded after the uninstall", id)
		}
	}
	if left, err := install.outputInNamespace("sh", "-c", "ls -A /sys/fs/bpf/bpfleet 2>/dev/null || true"); err != nil || strings.TrimSpace(left) != "" {
		t.Errorf("left under the pin root: %q (%v)", left, err)
	}
	if out, _ := install.Kubectl("api-resources", "--api-group=bpfleet.io", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("bpfleet's resources still served after the uninstall: %s", out)
	}
	out, err := install.Kubectl("get", "clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings",
		"-l", "app.kubernetes.io/part-of=bpfleet", "-o", "name")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("bpfleet's cluster-wide objects left after the uninstall: %q (%v)", out, err)
	}
}

// watchUninstall watches, as an uninstall runs, when the programs are
// released (their finalizer gone, or they are) and when the operator's
// access goes (its ServiceAccount or ClusterRoleBinding deleted): times
// returns the last release and the first of those deletions.
func watchUninstall(t *testing.T) (times func() (released, access time.Time)) {
	t.Helper()
	k, err := install.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var released, access time.Time
	var wg sync.WaitGroup
	// follow calls record with the object's name and the time of each
	// event of list that seen accepts.
	follow := func(list client.ObjectList, opts []client.ListOption, seen func(watch.Event) bool, record func(name string, at time.Time)) {
		w, err := k.Watch(ctx, list, opts...)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Stop()
			for ev := range w.ResultChan() {
				if o, ok := ev.Object.(client.Object); ok && seen(ev) {
					mu.Lock()
					record(o.GetName(), time.Now())
					mu.Unlock()
				}
			}
		}()
	}
	// A program is released when first seen without the finalizer (or
	// gone); the last of them counts.
	releasedAt := map[string]time.Time{}
	follow(&bpfleetv1.TracepointProgramList{}, nil, func(ev watch.Event) bool {
		return ev.Type == watch.Deleted || !controllerutil.ContainsFinalizer(ev.Object.(client.Object), bpfleetv1.Finalizer)
	}, func(name string, at time.Time) {
		if _, seen := releasedAt[name]; !seen {
			releasedAt[name] = at
			if at.After(released) {
				released = at
			}
		}
	})
	gone := func(ev watch.Event) bool { return ev.Type == watch.Deleted }
	first := func(_ string, at time.Time) {
		if access.IsZero() {
			access = at
		}
	}
	follow(&corev1.ServiceAccountList{}, []client.ListOption{client.InNamespace(Namespace), client.MatchingFields{"metadata.name": Operator}}, gone, first)
	follow(&rbacv1.ClusterRoleBindingList{}, []client.ListOption{client.MatchingFields{"metadata.name": Operator}}, gone, first)
	return func() (time.Time, time.Time) {
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if released.IsZero() || access.IsZero() {
			t.Fatalf("the watches saw no release (%v) or no deletion of the operator's access (%v)", released, access)
		}
		return released, access
	}
}
