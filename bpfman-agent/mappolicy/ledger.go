package mappolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
	"github.com/bpfleet/bpfleet/internal/durable"
)

// ledger remembers, per MapPolicy, the keys the agent last wrote for it:
// a file per policy under dir, holding a JSON array of keys as the policy
// spelled them. A key a merge policy stops listing is removed from the map
// through it, after an agent restart too. A missing ledger (a new node, a
// lost disk) means no key is known: nothing is removed that should stay.
// Without a dir the ledger keeps nothing.
type ledger struct{ dir string }

const ledgerExt = ".keys.json"

func (l ledger) path(uid types.UID) (string, error) {
	if err := pins.ValidateUID(string(uid)); err != nil {
		return "", err
	}
	return filepath.Join(l.dir, string(uid)+ledgerExt), nil
}

// keys returns the keys last written for uid, or none.
func (l ledger) keys(uid types.UID) ([]json.RawMessage, error) {
	if l.dir == "" {
		return nil, nil
	}
	p, err := l.path(uid)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read written keys: %w", err)
	}
	keys, err := maps.ParseValues(b)
	if err != nil {
		// A torn or edited file: forget it rather than block the policy.
		return nil, nil
	}
	return keys, nil
}

// record replaces the keys written for uid, durably: a new file, synced,
// renamed over the old one, and the directory synced. No keys (nil)
// removes the record: no key is known.
func (l ledger) record(uid types.UID, keys []json.RawMessage) error {
	if l.dir == "" {
		return nil
	}
	p, err := l.path(uid)
	if err != nil {
		return err
	}
	if keys == nil {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("record written keys: %w", err)
		}
		return nil
	}
	b := jsonArray(keys)
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return fmt.Errorf("record written keys: %w", err)
	}
	if err := durable.WriteFile(p, b); err != nil {
		return fmt.Errorf("record written keys: %w", err)
	}
	return nil
}

// jsonArray is the JSON array of keys, each one JSON value as the API or
// an entries artifact gave it (an absent key is null).
func jsonArray(keys []json.RawMessage) []byte {
	n := 2
	for _, k := range keys {
		n += len(k) + 1
	}
	b := make([]byte, 0, n+4*len(keys))
	b = append(b, '[')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		if len(k) == 0 {
			k = json.RawMessage("null")
		}
		b = append(b, k...)
	}
	return append(b, ']')
}

// keysOf lists the keys of entries, as the policy spelled them.
func keysOf(entries []maps.Entry) []json.RawMessage {
	keys := make([]json.RawMessage, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	return keys
}

// union is a then the keys of b not in a (as spelled; b's own repeats are
// kept, so that the union of a union and b is that union again).
func union(a, b []json.RawMessage) []json.RawMessage {
	if len(a) == 0 {
		return b
	}
	// The keys of a, as substrings of one string: a set with no string
	// per key.
	var all strings.Builder
	n := 0
	for _, k := range a {
		n += len(k)
	}
	all.Grow(n)
	for _, k := range a {
		all.Write(k)
	}
	seen := make(map[string]struct{}, len(a))
	s := all.String()
	for _, k := range a {
		seen[s[:len(k)]], s = struct{}{}, s[len(k):]
	}
	out := append(make([]json.RawMessage, 0, len(a)+len(b)), a...)
	for _, k := range b {
		if _, ok := seen[string(k)]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// sameKeys says whether a and b list the same keys, spelled the same, in
// the same order.
func sameKeys(a, b []json.RawMessage) bool {
	return slices.EqualFunc(a, b, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) })
}

// forget drops the ledger of every policy not in keep.
func (l ledger) forget(keep map[types.UID]bool) error {
	if l.dir == "" {
		return nil
	}
	files, err := os.ReadDir(l.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list written keys: %w", err)
	}
	var errs []error
	for _, f := range files {
		uid, ok := strings.CutSuffix(f.Name(), ledgerExt)
		if ok && keep[types.UID(uid)] {
			continue
		}
		if err := os.Remove(filepath.Join(l.dir, f.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
