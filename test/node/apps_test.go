package node

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/testkernel"
)

// teamApp is a BpfApplication in namespace <ns> counting the packets the
// eth0 of its pods labelled app=web sends.
const teamApp = `apiVersion: bpfleet.io/v1alpha1
kind: BpfApplication
metadata:
  name: web-counter
  namespace: %s
spec:
  byteCode:
    image:
      ref: %s
  programs:
  - name: tc_count
    tcx:
      interfaces:
        names: [eth0]
      direction: egress
      networkNamespaces:
        pods:
          matchLabels: {app: web}
`

// appPolicy is the cluster's BpfApplicationPolicy, allowing <repository>.
const appPolicy = `apiVersion: bpfleet.io/v1alpha1
kind: BpfApplicationPolicy
metadata:
  name: default
spec:
  repositories: [%s]
`

// Two teams, each with a BpfApplication whose selector (app=web) matches
// the other team's pod by label too: each attaches in its own namespace
// only, and counts its own pod's packets, none of the other's. An image
// outside the cluster's BpfApplicationPolicy is refused by kubectl apply.
func TestBpfApplicationsStayInTheirNamespace(t *testing.T) {
	target := buildPodTarget(t)
	k := podClient(t)
	image := install.Examples["tc-counter"]
	repo := image[:strings.LastIndex(image, "/")]
	apply(t, fmt.Sprintf(appPolicy, repo))
	t.Cleanup(func() { _, _ = install.Kubectl("delete", "bpfapplicationpolicy/default") })

	teams := []string{testNamespace(t, k, "team-red"), testNamespace(t, k, "team-blue")}
	ips, counters := map[string]string{}, map[string]uint32{}
	for _, ns := range teams {
		pod := startPod(t, k, podTargetPod(ns, "web", target.Image, map[string]string{"app": "web"}))
		ips[ns] = pod.Status.PodIP
	}
	for _, ns := range teams {
		uid := applyApp(t, ns, fmt.Sprintf(teamApp, ns, image))
		entry := waitEntry(t, uid, ns+"'s pod attached", func(e bpfleetv1.NodeProgramStatus) bool {
			return e.Pods != nil && e.Pods.Matched == 1 && e.Pods.Attached == 1 && len(e.Programs) == 1 && len(e.Programs[0].Links) == 1
		})
		if got, want := entry.Programs[0].Links[0].Target, ns+"/web:eth0"; got != want {
			t.Errorf("%s's application is attached on %q, want %q only", ns, got, want)
		}
		counters[ns] = entry.Objects.MapIDs["packets"]
		waitJSONPathIn(t, ns, "bpfapplication/web-counter", "{.status.pods.summary}", "1/1")
	}
	for _, ns := range teams {
		waitServing(t, ips[ns])
	}
	for _, ns := range teams {
		before := map[string]uint64{}
		for _, other := range teams {
			before[other] = quietCounter(t, counters[other])
		}
		poke(t, ips[ns], pokes)
		time.Sleep(300 * time.Millisecond)
		for _, other := range teams {
			n := testkernel.MapValue(t, counters[other], uint32(0))
			switch {
			case other == ns && n < before[other]+pokes:
				t.Errorf("%d datagrams from %s's pod raised its counter from %d to %d", pokes, ns, before[other], n)
			case other != ns && n > before[other]+background:
				t.Errorf("%d datagrams from %s's pod raised %s's counter from %d to %d", pokes, ns, other, before[other], n)
			}
		}
	}

	refused := fmt.Sprintf(teamApp, teams[0], "registry.example.com/bpf/tc-counter:v1")
	out, err := install.kubectlIn(refused, "apply", "-f", "-")
	if want := "image registry.example.com/bpf/tc-counter:v1 is not allowed by BpfApplicationPolicy default"; err == nil || !strings.Contains(out, want) {
		t.Errorf("kubectl apply of an image outside the policy: %v\n%s\nwant a refusal saying %q", err, out, want)
	}
}

// Kubernetes' edit role reaches no BpfApplication; the aggregated
// bpfleet-application-editor, granted in a namespace, does there (the
// controller manager aggregates its rules), and nowhere else.
func TestApplicationEditorRole(t *testing.T) {
	k := podClient(t)
	ns := testNamespace(t, k, "team-roles")
	testNamespace(t, k, "team-roles-other")
	for _, b := range [][]string{{"edit", "edit"}, {"bpf", "bpfleet-application-editor"}} {
		if out, err := install.Kubectl("create", "rolebinding", b[0], "-n", ns, "--clusterrole="+b[1], "--user=alice"); err != nil {
			t.Fatalf("kubectl create rolebinding: %v\n%s", err, out)
		}
	}
	can := func(verb, resource string, ns ...string) string {
		args := []string{"auth", "can-i", verb, resource, "--as=alice"}
		for _, n := range ns {
			args = append(args, "--namespace="+n)
		}
		out, _ := install.Kubectl(args...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return lines[len(lines)-1] // after any warning
	}
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return can("create", "bpfapplications.bpfleet.io", ns) == "yes", nil
	})
	if err != nil {
		t.Fatalf("alice, granted bpfleet-application-editor in %s, cannot create BpfApplications there", ns)
	}
	if got := can("create", "bpfapplications.bpfleet.io", "team-roles-other"); got != "no" {
		t.Errorf("alice can create BpfApplications in a namespace she is not granted: %s", got)
	}
	if got := can("create", "bpfapplicationpolicies.bpfleet.io"); got != "no" {
		t.Errorf("alice can create a BpfApplicationPolicy: %s", got)
	}
	if out, err := install.Kubectl("delete", "rolebinding", "bpf", "-n", ns); err != nil {
		t.Fatalf("kubectl delete rolebinding: %v\n%s", err, out)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return can("create", "bpfapplications.bpfleet.io", ns) == "no", nil
	})
	if err != nil {
		t.Errorf("with edit only, alice can still create BpfApplications in %s", ns)
	}
}

// applyApp applies manifest, the BpfApplication web-counter of namespace
// ns, as a user would, deletes it when the test ends, and returns its UID
// once it is Ready.
func applyApp(t *testing.T, ns, manifest string) types.UID {
	t.Helper()
	apply(t, manifest)
	in := "--namespace=" + ns
	t.Cleanup(func() { _, _ = install.Kubectl("delete", "bpfapplication/web-counter", in, "--timeout=2m") })
	if out, err := install.Kubectl("wait", "--for=condition=Ready", "bpfapplication/web-counter", in, "--timeout=2m"); err != nil {
		st, _ := install.Kubectl("get", "bpfapplication/web-counter", in, "-o", "jsonpath={.status}")
		t.Fatalf("kubectl wait: %v\n%s\nstatus: %s", err, out, st)
	}
	out, err := install.Kubectl("get", "bpfapplication/web-counter", in, "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		t.Fatalf("kubectl get: %v\n%s", err, out)
	}
	return types.UID(out)
}

// apply applies manifest, as a user would.
func apply(t *testing.T, manifest string) {
	t.Helper()
	if out, err := install.kubectlIn(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}
