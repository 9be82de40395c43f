// Package pins owns bpfleet's layout on the BPF filesystem and the mounts it
// depends on.
//
// Every program lives under a root (DefaultRoot in production):
//
//	<root>/<uid>/<revision>/progs/<program>                each program of the object
//	<root>/<uid>/<revision>/links/<program>[-<key>]/<target> a link attaching it, per target
//	<root>/<uid>/<revision>/maps/<name>                    each map its programs use
//	<root>/<uid>/by-name/<name>                            a map the object pins by name
//	<root>/shared/<name>                                   a map several applications share
//
// A revision is one load of an object: an application's programs (one for
// a single program kind) share its maps. A program's links directory
// carries the key of the hook settings its links were made with (LinkSet),
// so that a new revision moves a link in place only where that program's
// settings are unchanged. Agents before applications pinned one program
// per revision as <revision>/prog with links/<target> (LegacyProg,
// LegacyLink): those pins are read, and taken over by a new revision,
// never written.
//
// The directory "shared" is reserved (ValidateUID refuses it as a uid):
// List skips it and Prune keeps it. So is "by-name" inside a uid's
// directory (ValidateRevision refuses it as a revision): it holds the maps
// the object declares with libbpf's LIBBPF_PIN_BY_NAME, one per uid and
// map name, outside the revisions, so that every revision of the uid uses
// the same map. List and RemoveOtherRevisions leave it while the uid is
// kept; RemoveUID, and Prune of a uid no longer kept, remove it. Two uids
// never share such a map: the scope is the uid, not the host-wide
// /sys/fs/bpf/<name> where libbpf pins by default. A revision using a shared map pins it
// under its maps/ too, like its own maps; the package does not count
// users (that needs kernel IDs, see package programs): RemoveShared
// unpins a shared map when its caller knows that none is left.
//
// The pins are the agent's memory across restarts: a revision directory is
// created complete (it is assembled under a "~staging-" name and renamed
// into place), and anything under the root that no desired program owns is
// garbage to prune; a staging directory a killed agent left is removed at
// start (RemoveStaging) and by Prune. The pins live only as long as their
// BPF filesystem: Layout.State identifies the root (device and inode, so a
// new bpffs instance or a root made anew differs), and Restore makes it
// again, mounting a BPF filesystem only at Layout.MountAt (DefaultMountAt:
// /sys/fs/bpf for a root under it). Names that become path elements (uid, revision, map
// name) are validated first, so that input from the API cannot escape the
// root. bpffs refuses dots in names, so map names are stored with dots
// turned into dashes (".rodata" -> "-rodata") and link targets with dots
// turned into '~' ("eth0.100" -> "eth0~100"), as are shared map names; Dir.Map, Dir.MapNames,
// Dir.Link and Dir.LinkTargets translate. Program names are C identifiers,
// pinned as they are.
//
// The package holds no file descriptors: it only creates, lists and removes
// paths. Removing a pin drops the kernel object once no other pin or fd
// refers to it (for a link: detaches it).
package pins
