package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// BenchmarkAgentPodMemory reads the agent pod's memory as the kubelet
// accounts it (its pod cgroup's usage less inactive file pages: the
// working set kubectl top shows and a memory limit bounds), idle with no
// program and with 50 TracepointPrograms, and what of it is kernel memory
// (kmem: the programs' BPF maps and programs are charged to the cgroup of
// the process that made them, the agent) and what is the agent's own
// (the rest; goal: < 40 MiB with 50).
func BenchmarkAgentPodMemory(b *testing.B) {
	ctx := context.Background()
	k, err := install.Client()
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		reportIdle(b, k, "0")
		var made []*bpfleetv1.TracepointProgram
		for i := range 50 {
			p := &bpfleetv1.TracepointProgram{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("memory-%d", i)},
				Spec: bpfleetv1.TracepointProgramSpec{
					ProgramCommon: bpfleetv1.ProgramCommon{
						ProgramSource: bpfleetv1.ProgramSource{ByteCode: bpfleetv1.ByteCodeSource{Image: &bpfleetv1.ImageSource{Ref: install.Examples["tracepoint-counter"]}}},
						ProgramName:   "count_openat",
					},
					Tracepoint: bpfleetv1.TracepointAttach{Name: "syscalls/sys_enter_openat"},
				},
			}
			if err := k.Create(ctx, p); err != nil {
				b.Fatal(err)
			}
			made = append(made, p)
		}
		waitAllReady(b, k, made)
		reportIdle(b, k, "50")
		for _, p := range made {
			if err := k.Delete(ctx, p); err != nil && !apierrors.IsNotFound(err) {
				b.Fatal(err)
			}
		}
		err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
			var list bpfleetv1.TracepointProgramList
			return k.List(ctx, &list) == nil && len(list.Items) == 0, nil
		})
		if err != nil {
			b.Fatal("the 50 programs were not gone in 3 minutes")
		}
	}
}

// waitAllReady waits until every program of ps is Ready.
func waitAllReady(b *testing.B, k client.Client, ps []*bpfleetv1.TracepointProgram) {
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		var list bpfleetv1.TracepointProgramList
		if err := k.List(ctx, &list); err != nil {
			return false, nil
		}
		ready := 0
		for _, p := range list.Items {
			if meta.IsStatusConditionTrue(p.Status.Conditions, bpfleetv1.ConditionReady) {
				ready++
			}
		}
		return ready >= len(ps), nil
	})
	if err != nil {
		b.Fatalf("%d programs not Ready in 5 minutes", len(ps))
	}
}

// reportIdle lets the agent settle, then reports the medians of five
// readings of its pod's working set, kernel memory and the rest, in MiB,
// with programs programs running.
func reportIdle(b *testing.B, k client.Client, programs string) {
	b.Helper()
	time.Sleep(15 * time.Second)
	dir := agentPodCgroup(b, k)
	var ws, kmem []float64
	for range 5 {
		ws = append(ws, workingSet(b, dir)/(1<<20))
		v, err := readUint(filepath.Join(dir, "memory.kmem.usage_in_bytes"))
		if err != nil {
			b.Fatal(err)
		}
		kmem = append(kmem, float64(v)/(1<<20))
		time.Sleep(time.Second)
	}
	slices.Sort(ws)
	slices.Sort(kmem)
	b.ReportMetric(ws[2], "ws-"+programs+"-MiB")
	b.ReportMetric(kmem[2], "kmem-"+programs+"-MiB")
	b.ReportMetric(ws[2]-kmem[2], "own-"+programs+"-MiB")
}

// agentPodCgroup is the agent pod's memory cgroup directory.
func agentPodCgroup(b *testing.B, k client.Client) string {
	b.Helper()
	var pod corev1.Pod
	if err := k.Get(context.Background(), types.NamespacedName{Namespace: Namespace, Name: agentPod(b)}, &pod); err != nil {
		b.Fatal(err)
	}
	matches, _ := filepath.Glob(filepath.Join(cgroupFS, "memory", cgroupRoot, "kubepods", "*", "pod"+string(pod.UID)))
	if len(matches) != 1 {
		b.Fatalf("no memory cgroup for pod %s: %v", pod.UID, matches)
	}
	return matches[0]
}

// workingSet is a memory cgroup's usage less its inactive file pages.
func workingSet(b *testing.B, dir string) float64 {
	b.Helper()
	usage, err := readUint(filepath.Join(dir, "memory.usage_in_bytes"))
	if err != nil {
		b.Fatal(err)
	}
	stat, err := os.ReadFile(filepath.Join(dir, "memory.stat"))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(stat), "\n") {
		if v, ok := strings.CutPrefix(line, "total_inactive_file "); ok {
			inactive, _ := strconv.ParseUint(v, 10, 64)
			return float64(usage - min(inactive, usage))
		}
	}
	return float64(usage)
}

func readUint(file string) (uint64, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
}
