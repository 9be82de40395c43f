package nodesync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// revision names what defines a loaded program: "<code>-<hook>", where code
// hashes the object, the program in it, its constants and its map settings
// (size, sharing), and hook hashes the attach settings. Any change gives a
// new revision, which programs.Manager swaps in; it moves links in place
// only when the hook part is unchanged (an XDP mode or TCX order change
// needs new links).
func revision(np *bpfleetv1.NodeProgram, object []byte) string {
	// json.Marshal sorts map keys, so equal specs hash equally.
	code, _ := json.Marshal(struct {
		Program string
		Globals map[string]bpfleetv1.GlobalValue
		Maps    []bpfleetv1.MapConfig `json:",omitempty"`
	}{np.ProgramName, np.GlobalData, np.Maps})
	hook, _ := json.Marshal(hookSettings(np.Attach))
	return digest(object, code)[:16] + "-" + digest(hook)[:8]
}

// hookSettings is what a link is made with, without the interface selector:
// interfaces that come and go add and remove links of the same revision.
func hookSettings(a bpfleetv1.AttachPoint) bpfleetv1.AttachPoint {
	a = *a.DeepCopy()
	if a.XDP != nil {
		a.XDP.Interfaces = bpfleetv1.InterfaceSelector{}
	}
	if a.TCX != nil {
		a.TCX.Interfaces = bpfleetv1.InterfaceSelector{}
	}
	return a
}

func digest(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
