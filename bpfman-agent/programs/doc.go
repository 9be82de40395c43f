// Package programs is what the node agent calls to make the kernel run a
// set of applications: load, attach and pin one, adopt it after a
// restart, replace it with a new revision, and remove it.
//
// An application (Program) is one load of an object: its programs
// (Program.Programs; one for a single program kind) share the object's
// maps and globals, one kernel map of each for all of them. Each program
// is pinned under <revision dir>/progs/<name>, and has one link per
// target (Attachment.Attach, keyed by e.g. "main" or an interface name),
// pinned under <revision dir>/links/<name>[-<link key>]/<key>.
//
// The pins under the Manager's root are the truth (see package pins for
// the layout). Apply is idempotent: a revision that is already pinned with
// its programs alive is adopted, not reloaded; only its links change, to
// match the targets (new ones attached, gone or dead ones unpinned). A new
// revision (a program added, removed or changed, new globals, a new
// object) takes each target of each program it keeps over from the
// running revision with link.Update where the hook supports it and that
// program's hook settings (Attachment.LinkKey) are unchanged (XDP, TCX,
// cgroup: the link keeps its ID and never stops running), else by
// attaching its own link before the old revision is unpinned; the links
// of a program it drops go with the old revision, once the new one is in
// place. Either way the hook never goes empty, except for an XDP mode
// change, which must detach the old link first. A failure rolls the
// updated links back, leaves nothing half-made in the kernel or bpffs,
// and the previous revision keeps running.
//
// Revisions pinned by agents before applications (<revision>/prog and
// links/<target>, see pins.Dir.LegacyProg) are listed by Installed, their
// program under the name "", and never adopted: Apply sets such a
// revision aside and installs its revision anew, taking the legacy links
// over as from any running revision (in place where the hook allows), so
// that an upgrade leaves no gap.
//
// Program.Maps configures maps before load: MaxEntries resizes one (a new
// size is a new revision, which replaces the running one as above), and
// Shared makes every program naming the same shared map use one map,
// pinned at <root>/shared/<name> (see package pins). The first program to
// load creates it from its spec; a later one uses it in place of its own
// (cilium/ebpf MapReplacements) after MapSpec.Compatible agrees, else it
// fails with MapIncompatible and loads nothing. A revision pins every map
// it uses under maps/<name>, shared ones included, so a shared map is in
// use while some published revision pins a map of the same kernel ID:
// Remove and Prune unpin the shared maps no revision uses any more, and
// removing a revision never removes a shared pin. An install that fails
// unpins the shared maps it created. Map and SharedMap open maps by name
// for the caller to read or write.
//
// Maps the object declares pinned by name (libbpf's LIBBPF_PIN_BY_NAME)
// are pinned at <root>/<uid>/by-name/<map>, outside the revisions: a new
// revision uses the map pinned there (its contents survive by
// construction, so carry leaves it alone) if it matches the object's
// definition, and fails with MapIncompatible otherwise (the map keeps its
// definition while the uid exists). The scope is the uid: two programs
// never share such a map, unlike libbpf's host-wide /sys/fs/bpf/<map>.
// MapConfig cannot resize or share such a map (MapIncompatible). An
// install that fails unpins the maps it pinned by name, a new revision
// unpins those it no longer uses, and Remove and Prune remove them with
// their uid.
//
// A pinned revision is adopted only if its programs are the revision's:
// type, name and (where cilium/ebpf rewrites nothing at load) kernel tag
// are checked against the object once per revision and Manager. Another
// program pinned there is set aside and replaced like an update.
// CheckRoot, called before each pass, notices a pin root that lost its
// pins (its BPF filesystem unmounted, or the root removed): it makes the
// root again so that Apply reloads every program, or, if it cannot, makes
// every call fail with PinRootUnavailable rather than load what it could
// not pin.
//
// A new revision's maps start with the running revision's entries. It
// uses the running revision's map of the same name as it is, if its
// definition is unchanged (type, key and value size, max_entries and
// flags: MapSpec.Compatible, after Program.Maps applied) and the map
// holds data a reader outside the program reads (hash, array, LRU hash,
// LPM trie and their per-CPU kinds, ring buffer, perf event array): the
// same kernel map, with the same ID, so a reader holding it follows the
// program and nothing written between a copy and the swap is lost (see
// reuse). Only where the definition changed (e.g. a new maxEntries) does
// it get a new map, filled, before any link moves to it, with the entries
// of the running revision's map of the same name, type, key and value
// size if it holds plain data (see carry). Data sections (.rodata, .data,
// .bss) are never reused nor carried: the new revision's globals are its
// own; nor are maps whose contents belong to one revision (prog arrays,
// maps of maps, struct_ops, cgroup storage), nor maps whose values hold
// state the kernel manages (timers, locks, lists, kptrs: a timer kept
// would call the old revision's code; such a map is a new one, filled by
// carry, whose copy leaves those fields zero); shared maps and maps pinned
// by name are one map already. A map the running revision shares or pins
// by name, and the new one does not, is the new one's own map, filled as
// a changed one. If the entries do not fit (a smaller maxEntries), the
// update is held with MapFull, which is not terminal, and the running
// revision keeps running.
//
// Errors that the agent must report are *Error values (an alias of
// loader.Error) whose Reason classifies them; Terminal tells whether a
// retry can help. The Manager holds no file descriptors between calls
// (only the root's identity and which pinned programs it checked) and
// must be used from one goroutine at a time.
package programs
