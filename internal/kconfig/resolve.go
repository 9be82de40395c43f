package kconfig

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// Resolve sets the .kconfig externs of spec from the running kernel into
// a frozen map named Section, and makes every program read them there.
// weak names the externs declared __weak (from Patch). It does nothing
// for an object without externs. An error names the extern it could not
// set; one wrapping ErrNoConfig means the node has no kernel config.
func Resolve(spec *ebpf.CollectionSpec, weak map[string]bool) error {
	var ds *btf.Datasec
	if spec.Types == nil || spec.Types.TypeByName(Section, &ds) != nil {
		return nil
	}
	h, err := runningHost()
	if err != nil {
		return err
	}
	return resolve(spec, ds, weak, h)
}

// resolve sets the externs of ds, the .kconfig section of spec, from h.
func resolve(spec *ebpf.CollectionSpec, ds *btf.Datasec, weak map[string]bool, h host) error {
	data, err := values(ds, weak, h)
	if err != nil {
		return err
	}
	spec.Maps[Section] = &ebpf.MapSpec{
		Name: Section, Type: ebpf.Array, KeySize: 4, ValueSize: ds.Size, MaxEntries: 1,
		Flags: unix.BPF_F_RDONLY_PROG, Key: &btf.Int{Size: 4}, Value: ds,
		Contents: []ebpf.MapKV{{Key: uint32(0), Value: data}},
	}
	offsets := make(map[int64]uint32, len(ds.Vars))
	for i, v := range ds.Vars {
		offsets[marker(i)] = v.Offset
	}
	for _, p := range spec.Programs {
		rewrite(p.Instructions, offsets)
	}
	return nil
}

// rewrite makes each load of an extern's address (marked by Patch) a load
// of its place in the Section map. The new instruction keeps the old one's symbol, BTF
// function and line info, and none of cilium/ebpf's own .kconfig
// metadata (which would make it resolve the extern again, its way).
func rewrite(insns asm.Instructions, offsets map[int64]uint32) {
	for i := range insns {
		ins := &insns[i]
		off, ok := offsets[ins.Constant]
		if !ok || !ins.OpCode.IsDWordLoad() || ins.Src != asm.PseudoMapValue || ins.Reference() != "" {
			continue
		}
		n := asm.LoadMapValue(ins.Dst, 0, off).WithReference(Section).WithSource(ins.Source())
		if sym := ins.Symbol(); sym != "" {
			n = n.WithSymbol(sym)
		}
		if fn := btf.FuncMetadata(ins); fn != nil {
			n = btf.WithFuncMetadata(n, fn)
		}
		insns[i] = n
	}
}

// values builds the Section map's value: each extern at its offset.
func values(ds *btf.Datasec, weak map[string]bool, h host) ([]byte, error) {
	data := make([]byte, ds.Size)
	var options []btf.VarSecinfo
	for _, vsi := range ds.Vars {
		name := vsi.Type.TypeName()
		if isOption(name) {
			options = append(options, vsi)
			continue
		}
		if err := putLinux(data[vsi.Offset:vsi.Offset+vsi.Size], name, varType(vsi), weak[name], h); err != nil {
			return nil, fmt.Errorf("%s extern %s: %w", Section, name, err)
		}
	}
	if len(options) == 0 {
		return data, nil
	}
	return data, putOptions(data, options, weak, h.configs)
}

func varType(vsi btf.VarSecinfo) btf.Type { return vsi.Type.(*btf.Var).Type }
