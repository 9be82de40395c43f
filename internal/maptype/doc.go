// Package maptype says which eBPF map types a MapPolicy can write entries
// into, for the operator (which knows a map's type from an image's
// io.ebpf.maps label or its object) and the agent (which knows it from
// the object it loads): one list, so that what the operator accepts and
// what a node writes agree.
//
// Parse reads a type as labels name it: cilium/ebpf's names lowercased
// ("ringbuf", "percpuarray", which `bpfleet image build` writes), bpfman's
// snake_case ("per_cpu_array", "ring_buf", "prog_array") and the kernel's
// ("BPF_MAP_TYPE_RINGBUF"). A name it does not know is not refused by
// anyone: the node that loads the object says what it is.
package maptype
