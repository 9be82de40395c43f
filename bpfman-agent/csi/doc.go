// Package csi is the agent's CSI node plugin (driver csi.bpfleet.io): it
// mounts maps of a program the node runs into the pods its mapAccess
// grants, as inline ephemeral volumes. A volume is a BPF filesystem of its
// own, mounted at the kubelet's target path, holding one pin per map,
// named after it; the pod opens a pin with cilium/ebpf's LoadPinnedMap.
//
// Who may mount what is declared on the program (spec.mapAccess), never
// on the pod: the kubelet tells the driver the pod's namespace and
// service account (podInfoOnMount), and a pod that no grant names gets
// PermissionDenied, which the kubelet reports as FailedMount. A mount is
// read-only unless the volume asks for writing and every map in it is
// granted ReadWrite. Read-only is the filesystem's own state (the
// superblock is remounted read-only once the pins are made), so that no
// process in the pod, root included, can open a map for writing: the
// kernel refuses with EROFS, and writes through a read-only descriptor
// fail with EPERM. A read-only volume is never made writable again.
//
// A volume whose program does not run on the node yet fails with
// Unavailable, and the kubelet retries until it does: a pod never starts
// with an empty directory. Each published volume is recorded in the
// driver's state directory, so that an agent restarted later can still
// unpublish it and report it. After each of the agent's passes, Follow
// checks every volume against the maps its program runs with now (a new
// revision keeps maps whose definition is unchanged: same kernel map): a
// writable volume's pins are replaced, a read-only one is reported stale
// until its pod restarts. Unpublish unmounts the volume's filesystem and
// removes its target directory and record: nothing is left behind, and
// the maps are released once no one else holds them.
//
// The driver serves the CSI Identity and Node services on a unix socket,
// and registers itself with the kubelet through the kubelet's plugin
// registration socket (see Serve). It implements no Controller
// service: volumes exist only while their pod does.
package csi
