package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/internal/globaldata"
	"github.com/bpfleet/bpfleet/internal/maptype"
	"github.com/bpfleet/bpfleet/internal/oci"
)

// contentsReader is a Resolver that also says what the image of a digest
// holds (RegistryResolver); with another Resolver, images go unchecked.
type contentsReader interface {
	contents(ctx context.Context, img *bpfleetv1.ImageSource, digest string, object bool) (*imageContents, error)
}

// checkImage refuses a program whose image, resolved in its status,
// lacks what it names: one of its programs, a program of its hook's
// type, a globalData variable or a value that fits it, a map its
// mapAccess grants. An image that cannot be read is classified as a
// resolution is (a registry that is down is no mismatch).
func checkImage(ctx context.Context, r Resolver, p bpfleetv1.Program) error {
	cr, ok := r.(contentsReader)
	src := p.Source()
	if !ok || src.ByteCode.Image == nil {
		return nil
	}
	st := p.ProgramStatus().Image
	c, err := cr.contents(ctx, src.ByteCode.Image, st.Digest, len(src.GlobalData) > 0)
	if err == nil && len(src.MapAccess) > 0 && c.mapsUnknown() {
		c, err = cr.contents(ctx, src.ByteCode.Image, st.Digest, true)
	}
	if err != nil {
		return contentsError(err)
	}
	return mismatch("image "+pinnedRef(st.Ref, st.Digest)+": ", c.each(func(pc *platformContents) []string {
		lacked := append(pc.lackedPrograms(p.Attachments()), pc.lackedGlobals(src.GlobalData)...)
		return append(lacked, pc.lackedGranted(src.MapAccess)...)
	}))
}

// lackedGranted says which maps the grants name that the image lacks,
// each once.
func (pc *platformContents) lackedGranted(grants []bpfleetv1.MapAccessGrant) []string {
	var out []string
	seen := map[bpfleetv1.MapName]bool{}
	for _, g := range grants {
		for _, name := range g.Maps {
			if seen[name] {
				continue
			}
			seen[name] = true
			for _, problem := range pc.lackedMap(string(name)) {
				out = append(out, "mapAccess: "+problem)
			}
		}
	}
	return out
}

// checkPolicyMaps refuses a MapPolicy whose map the image of a program
// it selects lacks (ImageMismatch, listing the maps that image has), or
// holds as a type no MapPolicy writes entries into, when the policy has
// entries to write (MapNotWritable). A program whose image is not
// resolved, or cannot be read now, is not checked here: its own status
// says why.
func checkPolicyMaps(ctx context.Context, r Resolver, mp *bpfleetv1.MapPolicy, programs []KindedProgram) error {
	cr, ok := r.(contentsReader)
	if !ok {
		return nil
	}
	var lacked, unwritable []string
	for _, kp := range programs {
		p := kp.Program
		img, st := p.Source().ByteCode.Image, p.ProgramStatus().Image
		if !policySelects(mp, kp.Kind, p) || img == nil || !resolved(img, st) {
			continue
		}
		c, err := cr.contents(ctx, img, st.Digest, false)
		if err == nil && c.mapsUnknown() {
			c, err = cr.contents(ctx, img, st.Digest, true)
		}
		if err != nil {
			ctrl.LoggerFrom(ctx).V(1).Info("image not checked", "program", p.GetName(), "kind", kp.Kind, "reason", err.Error())
			continue
		}
		say := func(problem string) string {
			return fmt.Sprintf("%s %s: image %s: %s", kp.Kind, p.GetName(), pinnedRef(st.Ref, st.Digest), problem)
		}
		for _, problem := range c.each(func(pc *platformContents) []string { return pc.lackedMap(mp.Spec.MapName) }) {
			lacked = append(lacked, say(problem))
		}
		if writesEntries(mp) {
			for _, problem := range c.each(func(pc *platformContents) []string { return pc.unwritableMap(mp.Spec.MapName) }) {
				unwritable = append(unwritable, say(problem))
			}
		}
	}
	if len(lacked) > 0 {
		return mismatch("", lacked)
	}
	return refused(bpfleetv1.ReasonMapNotWritable, "", unwritable)
}

// writesEntries reports whether a policy writes the map's entries (lists
// some, or removes every other key), rather than only sizing or sharing
// it.
func writesEntries(mp *bpfleetv1.MapPolicy) bool {
	return len(mp.Spec.Entries) > 0 || mp.Spec.EntriesFrom != nil || mp.Spec.Mode == bpfleetv1.MapExact
}

// contentsError classifies an error of reading an image: the registry's
// as resolveError does, an image that is not a bytecode image as
// Stalled (InvalidImage).
func contentsError(err error) error {
	if errors.Is(err, oci.ErrInvalidImage) {
		return &classError{class: classTerminal, reason: bpfleetv1.ReasonInvalidImage, ready: bpfleetv1.ReasonInvalidImage, err: err}
	}
	return resolveError(fmt.Errorf("read image: %w", err))
}

// maxProblems bounds the problems a message says.
const maxProblems = 8

// mismatch is the terminal ImageMismatch error of problems, said after
// prefix; nil without any.
func mismatch(prefix string, problems []string) error {
	return refused(bpfleetv1.ReasonImageMismatch, prefix, problems)
}

// refused is the terminal error of reason of problems (at most
// maxProblems of them said), after prefix; nil without any.
func refused(reason, prefix string, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	if len(problems) > maxProblems {
		problems = append(problems[:maxProblems:maxProblems], fmt.Sprintf("and %d more", len(problems)-maxProblems))
	}
	err := errors.New(prefix + strings.Join(problems, "; "))
	return &classError{class: classTerminal, reason: reason, ready: reason, err: err}
}

// each gathers the problems check finds in every platform's image, each
// said with its platform when the image has several.
func (c *imageContents) each(check func(*platformContents) []string) []string {
	var out []string
	for i := range c.images {
		pc := &c.images[i]
		for _, problem := range check(pc) {
			if len(c.images) > 1 {
				problem = pc.platform + ": " + problem
			}
			out = append(out, problem)
		}
	}
	return out
}

// lackedPrograms says which of attachments the image lacks, or holds as
// a program of a type their hook does not attach.
func (pc *platformContents) lackedPrograms(attachments []bpfleetv1.ProgramAttachment) []string {
	var out []string
	for _, a := range attachments {
		typ, ok := pc.programs[a.Name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("no program %q; it has %s", a.Name, listed(pc.programs, "programs")))
		case !oci.HookRuns(a.Attach.Hook, typ):
			out = append(out, fmt.Sprintf("program %q is of type %s, which the %s hook does not attach (it attaches %s); the image has %s",
				a.Name, typ, a.Attach.Hook, strings.Join(oci.HookTypes(a.Attach.Hook), ", "), listed(pc.programs, "programs")))
		}
	}
	return out
}

// lackedGlobals says which globalData variables the object lacks, and
// which values do not fit theirs (as the node's loader encodes them).
// An object not read (too large, or unreadable here) is left to the
// nodes.
func (pc *platformContents) lackedGlobals(globals map[string]bpfleetv1.GlobalValue) []string {
	if pc.variables == nil {
		return nil
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(globals)) {
		v, ok := pc.variables[name]
		if !ok {
			out = append(out, fmt.Sprintf("globalData %q: the object has no such variable; it has %s", name, pc.listedVariables()))
			continue
		}
		if _, err := globaldata.Encode(string(globals[name]), v.size, v.kind); err != nil {
			out = append(out, fmt.Sprintf("globalData %q (%d bytes): %v", name, v.size, err))
		}
	}
	return out
}

// lackedMap says whether the image lacks map name. Without a maps label
// and an object read, it cannot tell: that is left to the nodes.
func (pc *platformContents) lackedMap(name string) []string {
	known := len(pc.maps) > 0 || pc.variables != nil
	if _, ok := pc.maps[name]; ok || !known {
		return nil
	}
	return []string{fmt.Sprintf("no map %q; it has %s", name, listed(pc.maps, "maps"))}
}

// unwritableMap says whether the image holds map name as a type into
// which no MapPolicy writes entries (internal/maptype). A type it does
// not know is left to the nodes.
func (pc *platformContents) unwritableMap(name string) []string {
	typ, ok := maptype.Parse(pc.maps[name])
	if !ok || maptype.CanWrite(typ) {
		return nil
	}
	return []string{fmt.Sprintf("map %q is of type %s, which holds no entries a MapPolicy can write (it writes %s maps; maxEntries and shared apply to any map)",
		name, pc.maps[name], maptype.Writable)}
}

// maxListed bounds the names a message lists.
const maxListed = 16

// listed lists entries (name → type) for a message: "programs a (xdp), b
// (tracepoint)", sorted, at most maxListed of them.
func listed(entries map[string]string, what string) string {
	names := slices.Sorted(maps.Keys(entries))
	return list(what, names, func(n string) string { return fmt.Sprintf("%s (%s)", n, entries[n]) })
}

// listedVariables lists the object's variables with their sizes.
func (pc *platformContents) listedVariables() string {
	names := slices.Sorted(maps.Keys(pc.variables))
	return list("variables", names, func(n string) string { return fmt.Sprintf("%s (%d bytes)", n, pc.variables[n].size) })
}

func list(what string, names []string, say func(string) string) string {
	if len(names) == 0 {
		return "no " + what
	}
	var parts []string
	for _, n := range names[:min(len(names), maxListed)] {
		parts = append(parts, say(n))
	}
	if len(names) > maxListed {
		parts = append(parts, fmt.Sprintf("and %d more", len(names)-maxListed))
	}
	return what + " " + strings.Join(parts, ", ")
}
