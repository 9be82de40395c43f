package nodesync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
)

// revision names what defines a loaded application: its code part hashes
// the object, the programs loaded from it, its constants and its map
// settings (size, sharing); its links part the programs' hook settings
// (their LinkKeys). Any change gives a new revision, which
// programs.Manager swaps in; it moves a program's links in place only
// while that program's LinkKey is unchanged (an XDP mode or TCX order
// change needs new links). A single program kind's revision is what
// agents before applications made (its links part is its hook's
// LinkKey), so that an upgraded agent takes its pins over in place.
func revision(np *bpfleetv1.NodeProgram, object []byte, progs []programs.Attachment) programs.Revision {
	if len(np.Programs) == 0 && len(progs) == 1 {
		// json.Marshal sorts map keys, so equal specs hash equally.
		code, _ := json.Marshal(struct {
			Program string
			Globals map[string]bpfleetv1.GlobalValue
			Maps    []bpfleetv1.MapConfig `json:",omitempty"`
		}{np.ProgramName, np.GlobalData, np.Maps})
		return programs.Revision{Code: digest(object, code)[:16], Links: progs[0].LinkKey}
	}
	keys := make(map[string]string, len(progs))
	for _, a := range progs {
		keys[a.Name] = a.LinkKey
	}
	names := slices.Sorted(maps.Keys(keys))
	code, _ := json.Marshal(struct {
		Programs []string
		Globals  map[string]bpfleetv1.GlobalValue
		Maps     []bpfleetv1.MapConfig `json:",omitempty"`
	}{names, np.GlobalData, np.Maps})
	links, _ := json.Marshal(keys)
	return programs.Revision{Code: digest(object, code)[:16], Links: digest(links)[:8]}
}

func digest(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
