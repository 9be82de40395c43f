package programs

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// A map whose values hold state the kernel manages (a timer would go on
// calling the old revision's callback) is never reused: the new revision
// gets its own map, which carry fills with the data (the kernel leaves
// such fields zero in a copy from user space).
func TestReusableRefusesKernelState(t *testing.T) {
	u64 := &btf.Int{Name: "__u64", Size: 8}
	timer := &btf.Struct{Name: "bpf_timer", Size: 16}
	task := &btf.Struct{Name: "task_struct", Size: 8}
	value := func(members ...btf.Member) btf.Type { return &btf.Struct{Name: "value", Members: members} }
	for _, tc := range []struct {
		name  string
		value btf.Type
		want  bool
	}{
		{"plain counters", value(btf.Member{Name: "n", Type: u64}), true},
		{"no BTF", nil, true},
		{"a timer", value(btf.Member{Name: "n", Type: u64}, btf.Member{Name: "t", Type: timer}), false},
		{"a timer in a typedef'd array", value(btf.Member{Name: "t", Type: &btf.Typedef{Name: "timers", Type: &btf.Array{Type: timer, Nelems: 2}}}), false},
		{"a spin lock", value(btf.Member{Name: "l", Type: &btf.Struct{Name: "bpf_spin_lock", Size: 4}}), false},
		{"a kptr", value(btf.Member{Name: "p", Type: &btf.Pointer{Target: &btf.TypeTag{Value: "kptr", Type: task}}}), false},
		{"a plain pointer", value(btf.Member{Name: "p", Type: &btf.Pointer{Target: task}}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := &ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 16, MaxEntries: 1, Value: tc.value}
			if got := reusable("m", ms); got != tc.want {
				t.Errorf("reusable = %v, want %v", got, tc.want)
			}
		})
	}
}
