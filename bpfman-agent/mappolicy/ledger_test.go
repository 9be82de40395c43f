package mappolicy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/bpfleet/bpfleet/bpfman-agent/maps"
)

func TestLedger(t *testing.T) {
	l := ledger{dir: filepath.Join(t.TempDir(), "mappolicies")}
	if keys, err := l.keys("a"); err != nil || keys != nil {
		t.Fatalf("keys of an unknown policy = %s, %v; want none", keys, err)
	}
	entries := []maps.Entry{{Key: json.RawMessage(`{"addr": "10.0.0.1"}`), Value: json.RawMessage(`{}`)}, {Key: json.RawMessage(`7`)}}
	for _, uid := range []types.UID{"a", "b"} {
		if err := l.record(uid, keysOf(entries)); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := l.keys("a")
	if err != nil || len(keys) != 2 || string(keys[1]) != `7` {
		t.Fatalf("keys = %s, %v", keys, err)
	}
	if err := l.forget(map[types.UID]bool{"b": true}); err != nil {
		t.Fatal(err)
	}
	if keys, _ := l.keys("a"); keys != nil {
		t.Errorf("keys of a forgotten policy = %s", keys)
	}
	if keys, _ := l.keys("b"); len(keys) != 2 {
		t.Errorf("a kept policy's keys = %s", keys)
	}

	if err := os.WriteFile(filepath.Join(l.dir, "b"+ledgerExt), []byte(`[{"addr`), 0o600); err != nil {
		t.Fatal(err)
	}
	if keys, err := l.keys("b"); err != nil || keys != nil {
		t.Errorf("a torn record = %s, %v; want it forgotten", keys, err)
	}
	if err := l.record("../escape", keysOf(entries)); err == nil {
		t.Error("a uid with a path in it was recorded")
	}
	if err := (ledger{}).record("a", keysOf(entries)); err != nil {
		t.Errorf("a ledger without a dir: %v", err)
	}
}
