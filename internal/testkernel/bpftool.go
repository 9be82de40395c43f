package testkernel

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"testing"
)

// BpftoolMapIDs is what bpftool says program id uses: the check a user
// makes that programs share a map.
func BpftoolMapIDs(tb testing.TB, id uint32) []uint32 {
	tb.Helper()
	out, err := exec.Command("bpftool", "-j", "prog", "show", "id", strconv.Itoa(int(id))).Output()
	if err != nil {
		tb.Fatalf("bpftool prog show id %d: %v", id, err)
	}
	var info struct {
		MapIDs []uint32 `json:"map_ids"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		tb.Fatalf("bpftool output %s: %v", out, err)
	}
	return info.MapIDs
}
