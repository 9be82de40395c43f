package nodesync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
	"github.com/bpfleet/bpfleet/bpfman-agent/attach"
	"github.com/bpfleet/bpfleet/bpfman-agent/programs"
)

// revision names what defines a loaded program: its code part hashes the
// object, the program in it, its constants and its map settings (size,
// sharing); its links part is the hook's LinkKey. Any change gives a new
// revision, which programs.Manager swaps in; it moves links in place only
// while the links part is unchanged (an XDP mode or TCX order change needs
// new links).
func revision(np *bpfleetv1.NodeProgram, object []byte, hook attach.Hook) (programs.Revision, error) {
	// json.Marshal sorts map keys, so equal specs hash equally.
	code, _ := json.Marshal(struct {
		Program string
		Globals map[string]bpfleetv1.GlobalValue
		Maps    []bpfleetv1.MapConfig `json:",omitempty"`
	}{np.ProgramName, np.GlobalData, np.Maps})
	links, err := hook.LinkKey(np.Attach)
	return programs.Revision{Code: digest(object, code)[:16], Links: links}, err
}

func digest(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
