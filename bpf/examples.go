package bpf

// Example is an example object, published by the local stack as the image
// bpfleet/<Name>:v1.
type Example struct {
	Name   string
	File   string
	Object []byte
}

// Examples lists the example programs, one image each.
var Examples = []Example{
	{"tracepoint-counter", "tracepoint_counter.o", TracepointCounter},
	{"xdp-counter", "xdp_counter.o", XDPCounter},
	{"tc-counter", "tc_counter.o", TCCounter},
	{"uprobe-counter", "uprobe_counter.o", UprobeCounter},
	{"kprobe-counter", "kprobe_counter.o", KprobeCounter},
	{"fentry-counter", "fentry_counter.o", FentryCounter},
	{"lsm-counter", "lsm_counter.o", LSMCounter},
	{"xdp-filter", "xdp_filter.o", XDPFilter},
	{"cgroup-counter", "cgroup_counter.o", CgroupCounter},
	{"flowmeter", "flowmeter.o", Flowmeter},
}
