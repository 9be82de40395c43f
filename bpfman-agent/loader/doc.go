// Package loader turns an ELF object into a program and its maps in the
// kernel, with cilium/ebpf.
//
// Spec is the pure half: it parses the ELF, keeps only the requested
// program and the maps it references, and applies global data; it creates
// nothing in the kernel, but reads the node's kernel config for an object
// with .kconfig externs (package internal/kconfig). Load is the kernel
// half; maps the object pins by name are pinned in the directory it is
// given (LoadSpecWith). Every failure is an *Error whose Reason says what went
// wrong (a bad object, a verifier rejection, a kernel that cannot run the
// program type...), so callers classify errors without parsing messages.
//
// Objects returned by Load own file descriptors: the caller pins what it
// needs and then calls Objects.Close. Loading never leaves anything in the
// kernel on failure.
package loader
