package attach

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/failure"
)

// Hook is one kind of hook, all the agent knows of it: its name in the
// API, whether this kernel has it, where a program attaches on this node,
// and which of its settings links are made with. Each hook's file
// registers one; the set is sealed (Hooks are made by register only).
type Hook interface {
	// Name is the hook's name in the API and in NodeCapabilities,
	// e.g. bpfleetv1.HookXDP.
	Name() string
	// Probe returns nil if this kernel can attach programs to the hook,
	// else an error whose text says what it lacks, fit for status.
	Probe() error
	// Plan reads the hook's settings and makes one Spec per target present
	// on the node, from its facts alone (no kernel calls).
	Plan(settings bpfleetv1.AttachPoint, facts *Facts) (Plan, error)
	// LinkKey names the settings links are made with, leaving out which
	// targets they go to: links move to a program's new revision in place
	// only while it is unchanged (see Revision).
	LinkKey(settings bpfleetv1.AttachPoint) (string, error)
	sealed()
}

// Plan is where one program attaches on this node.
type Plan struct {
	// Targets maps a target key (see programs.Program.Attach) to its hook.
	Targets map[string]Spec
	// Missing names selected targets that are absent for now.
	Missing []string
	// PodScoped says that the hook picks its targets among the node's
	// pods (none may match).
	PodScoped bool
	// Pods says, of each target in a pod, which pod it is in. An attach
	// there that fails is reported for that pod, and the program's other
	// targets still attach.
	Pods map[string]PodTarget
	// Matched lists the pods (namespace/name) the hook's pod selectors
	// match, and PodFailures, by pod, why one of them has no target.
	Matched     []string
	PodFailures map[string]string
}

// MainTarget keys the link of a program with a single target.
const MainTarget = "main"

// Single is the plan of a hook with one target.
func Single(s Spec) Plan { return Plan{Targets: map[string]Spec{MainTarget: s}} }

// hook is a Hook whose settings have the API type S.
type hook[S any] struct {
	name  string
	probe func() error
	plan  func(S, *Facts) (Plan, error)
	// linkSettings clears the fields of S that pick targets (interfaces);
	// nil: every field counts.
	linkSettings func(S) S
}

var registry = map[string]Hook{}

// register adds h to the hooks the agent knows.
func register[S any](h hook[S]) Hook {
	if _, dup := registry[h.name]; dup {
		panic("attach: hook " + h.name + " registered twice")
	}
	registry[h.name] = h
	return h
}

// All returns every hook, sorted by name.
func All() []Hook {
	out := make([]Hook, 0, len(registry))
	for _, name := range slices.Sorted(maps.Keys(registry)) {
		out = append(out, registry[name])
	}
	return out
}

// Lookup returns the hook called name.
func Lookup(name string) (Hook, error) {
	if name == "" {
		// A set written by an operator older than the agent (one field per
		// hook): keep what runs until the operator writes it anew.
		return nil, &failure.Wait{What: "the node's spec names no hook: waiting for the operator to write it anew"}
	}
	h, ok := registry[name]
	if !ok {
		return nil, &failure.Invalid{Err: fmt.Errorf("unknown hook %q", name)}
	}
	return h, nil
}

func (h hook[S]) Name() string { return h.name }
func (h hook[S]) Probe() error { return h.probe() }
func (hook[S]) sealed()        {}

func (h hook[S]) Plan(a bpfleetv1.AttachPoint, facts *Facts) (Plan, error) {
	s, err := h.decode(a)
	if err != nil {
		return Plan{}, err
	}
	return h.plan(s, facts)
}

// LinkKey hashes the link settings under the hook's lowercased name, as
// the hook part of revisions has always been made: an upgraded agent
// adopts the links an older one pinned.
func (h hook[S]) LinkKey(a bpfleetv1.AttachPoint) (string, error) {
	s, err := h.decode(a)
	if err != nil {
		return "", err
	}
	if h.linkSettings != nil {
		s = h.linkSettings(s)
	}
	b, err := json.Marshal(map[string]S{strings.ToLower(h.name): s})
	if err != nil {
		return "", fmt.Errorf("%s settings: %w", h.name, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:4]), nil
}

func (h hook[S]) decode(a bpfleetv1.AttachPoint) (S, error) {
	var s S
	if a.Hook != h.name {
		return s, &failure.Invalid{Err: fmt.Errorf("%s settings given to the %s hook", a.Hook, h.name)}
	}
	if err := a.Decode(&s); err != nil {
		return s, &failure.Invalid{Err: err}
	}
	return s, nil
}
