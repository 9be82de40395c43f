package nodesync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	bpfleetv1 "github.com/bpfleet/bpfleet/api/v1alpha1"
)

// revision names what defines a loaded program: the object, the program in
// it, its constants and its hook. Any change gives a new revision, which
// programs.Manager swaps in next to the old one.
func revision(np *bpfleetv1.NodeProgram, object []byte) string {
	h := sha256.New()
	h.Write(object)
	// json.Marshal sorts map keys, so equal specs hash equally.
	def, _ := json.Marshal(struct {
		Program string
		Globals map[string]bpfleetv1.GlobalValue
		Attach  bpfleetv1.AttachPoint
	}{np.ProgramName, np.GlobalData, np.Attach})
	h.Write(def)
	return hex.EncodeToString(h.Sum(nil))[:16]
}
