package mappolicy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
	"github.com/bpfleet/bpfleet/bpfman-agent/pins"
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
	var keys []json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		// A torn or edited file: forget it rather than block the policy.
		return nil, nil
	}
	return keys, nil
}

// record replaces the keys written for uid, atomically (a new file renamed
// over the old one).
func (l ledger) record(uid types.UID, entries []maps.Entry) error {
	if l.dir == "" {
		return nil
	}
	p, err := l.path(uid)
	if err != nil {
		return err
	}
	keys := make([]json.RawMessage, len(entries))
	for i, e := range entries {
		keys[i] = e.Key
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return fmt.Errorf("record written keys: %w", err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("record written keys: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("record written keys: %w", err)
	}
	return nil
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
