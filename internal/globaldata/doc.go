// Package globaldata turns the values of a program's globalData (decimal
// integers, true/false, hex bytes) into the bytes of the object's global
// variables. The node agent sets them before load (bpfman-agent/loader);
// the operator checks, before any node sees a program, that each value
// fits its variable (controllers). Both go through Encode, so a value the
// operator accepts is one every node accepts.
//
// Encode needs no kernel: only the variable's size and, from its BTF, how
// it reads its bytes (KindOf).
package globaldata
