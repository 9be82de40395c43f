package nodesync

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
	"github.com/bpfleet/bpfleet/internal/nodereport"
)

// rev is the revision of np with object obj.
func rev(t *testing.T, np bpfleetv1.NodeProgram, obj []byte) programs.Revision {
	t.Helper()
	hook, err := attach.Lookup(np.Attach.Hook)
	if err != nil {
		t.Fatal(err)
	}
	key, err := hook.LinkKey(np.Attach)
	if err != nil {
		t.Fatal(err)
	}
	return revision(&np, obj, []programs.Attachment{{Name: np.ProgramName, LinkKey: key}})
}

func tracepointAt(name string) bpfleetv1.AttachPoint {
	return bpfleetv1.NewAttachPoint(bpfleetv1.HookTracepoint, bpfleetv1.TracepointAttach{Name: name})
}

func TestRevision(t *testing.T) {
	np := bpfleetv1.NodeProgram{
		Name: "a", Generation: 1, ProgramName: "count_openat",
		GlobalData: map[string]bpfleetv1.GlobalValue{"a": "1", "b": "2"},
		Attach:     tracepointAt("syscalls/sys_enter_openat"),
	}
	obj := []byte("elf")
	base := rev(t, np, obj)
	// The links part is what older agents pinned: an upgrade adopts.
	if base.Links != "f1a308e2" {
		t.Errorf("links part %s, want f1a308e2 as before hooks were registered", base.Links)
	}
	same := np
	same.Name, same.Generation = "renamed", 7
	if rev(t, same, obj) != base {
		t.Error("name or generation changed the revision; only what is loaded should")
	}
	changed := np
	changed.GlobalData = map[string]bpfleetv1.GlobalValue{"a": "1", "b": "3"}
	if rev(t, changed, obj) == base || rev(t, np, []byte("other")) == base {
		t.Error("a new constant or object kept the revision")
	}
	rehooked := np
	rehooked.Attach = tracepointAt("syscalls/sys_enter_close")
	if r := rev(t, rehooked, obj); r.Code != base.Code || r.Links == base.Links {
		t.Errorf("a new hook should change only the links part: %s vs %s", base, r)
	}
	granted := np
	granted.MapAccess = []bpfleetv1.MapAccessGrant{{Namespace: "team", ServiceAccount: "reader", Maps: []bpfleetv1.MapName{"counts"}}}
	if rev(t, granted, obj) != base {
		t.Error("a new mapAccess changed the revision: it must reload nothing")
	}
	resized := np
	resized.Maps = []bpfleetv1.MapConfig{{Name: "counts", MaxEntries: 10}}
	if rev(t, resized, obj).Code == base.Code {
		t.Error("a new maxEntries kept the revision")
	}
	if err := pins.ValidateName("revision", base.String()); err != nil {
		t.Error(err)
	}
	if programs.ParseRevision(base.String()) != base {
		t.Errorf("revision %s does not parse back", base)
	}
}

func TestRevisionIgnoresWhichInterfaces(t *testing.T) {
	xdp := func(mode bpfleetv1.XDPMode, names ...bpfleetv1.InterfaceName) bpfleetv1.NodeProgram {
		return bpfleetv1.NodeProgram{ProgramName: "xdp_count", Attach: bpfleetv1.NewAttachPoint(bpfleetv1.HookXDP,
			bpfleetv1.XDPAttach{Interfaces: bpfleetv1.InterfaceSelector{Names: names}, Mode: mode})}
	}
	np := xdp(bpfleetv1.XDPAuto, "eth0")
	if got := rev(t, np, nil).Links; got != "75c808ca" {
		t.Errorf("links part %s, want 75c808ca as before hooks were registered", got)
	}
	if rev(t, np, nil) != rev(t, xdp(bpfleetv1.XDPAuto, "eth0", "eth1"), nil) {
		t.Error("adding an interface changed the revision: it must add a link, not reload")
	}
	if rev(t, np, nil) == rev(t, xdp(bpfleetv1.XDPGeneric, "eth0"), nil) {
		t.Error("a new XDP mode kept the revision")
	}
}

// The Lease says the agent is alive, owned by the node's set, unless a
// pass has run for longer than the Lease lasts.
func TestAlive(t *testing.T) {
	var r Reconciler
	if _, err := r.alive(); err == nil {
		t.Error("alive before the node's set is known")
	}
	r.setUID.Store(types.UID("set-uid"))
	if uid, err := r.alive(); err != nil || uid != "set-uid" {
		t.Errorf("alive = %q, %v; want the set's UID", uid, err)
	}
	r.passStart.Store(time.Now().Add(-time.Minute).UnixNano())
	if _, err := r.alive(); err != nil {
		t.Errorf("a pass running for a minute: %v", err)
	}
	r.passStart.Store(time.Now().Add(-nodereport.LeaseDuration - time.Minute).UnixNano())
	if _, err := r.alive(); err == nil || !strings.Contains(err.Error(), "sync pass has run for") {
		t.Errorf("a pass stuck for longer than the Lease: %v, want an error saying so", err)
	}
}

// A program listed twice in the spec is applied once.
func TestUniqueSpecEntries(t *testing.T) {
	got := unique(context.Background(), []bpfleetv1.NodeProgram{
		{UID: "a", Name: "first"}, {UID: "b", Name: "other"}, {UID: "a", Name: "again"},
	})
	if len(got) != 2 || got[0].Name != "first" || got[1].Name != "other" {
		t.Errorf("unique = %+v, want first and other", got)
	}
}
