package cli

import (
	"fmt"
	"io"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// What status does with the lists it read, at 1,000 nodes × 100
// programs: join each node's set and report, and write JSON (-o json) or
// the table. The API's part (reading and decoding the lists) is
// test/scale's raw-lists-ms.
func BenchmarkStatusRows(b *testing.B) {
	sets, reports := syntheticNodes(1000, 100)
	for _, output := range []string{"json", "table"} {
		b.Run(output, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var rows []nodeProgram
				for i := range sets {
					rows = append(rows, nodeRows(&sets[i], &reports[i], nil)...)
				}
				if output == "json" {
					_ = printItems(io.Discard, "json", rows)
				} else {
					printStatus(io.Discard, rows, false)
				}
			}
		})
	}
}

func syntheticNodes(nodes, programs int) ([]bpfleetv1.NodeProgramSet, []bpfleetv1.NodeProgramReport) {
	sets := make([]bpfleetv1.NodeProgramSet, nodes)
	reports := make([]bpfleetv1.NodeProgramReport, nodes)
	for n := range nodes {
		sets[n].Name, reports[n].Name = fmt.Sprintf("node-%04d", n), fmt.Sprintf("node-%04d", n)
		for p := range programs {
			uid := types.UID(fmt.Sprintf("uid-%03d", p))
			sets[n].Spec.Programs = append(sets[n].Spec.Programs, bpfleetv1.NodeProgram{UID: uid, Kind: "TracepointProgram",
				Name: fmt.Sprintf("scale-%03d", p), Generation: 1, Image: "127.0.0.1:5000/bpf/counter@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"})
			reports[n].Status.Programs = append(reports[n].Status.Programs, bpfleetv1.NodeProgramStatus{UID: uid, Generation: 1,
				State: bpfleetv1.StateReady, ProgramID: uint32(1000 + p), PinPath: "/sys/fs/bpf/bpfleet/" + string(uid) + "/r1",
				Objects: bpfleetv1.KernelObjects{Links: []bpfleetv1.LinkStatus{{Target: "main", LinkID: uint32(5000 + p)}}, MapIDs: map[string]uint32{"counts": 7}}})
		}
	}
	return sets, reports
}
