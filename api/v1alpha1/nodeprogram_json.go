package v1alpha1

import (
	"fmt"

	"sigs.k8s.io/json"
)

// UnmarshalJSON decodes a set's entry as every client of the API does
// (case-sensitive keys, integers kept), but never fails on what the entry
// holds: the fields that decode are kept, and Invalid says what did not.
// The entries are schemaless (see NodeProgramSetSpec.Programs), and one
// error here would fail the decoding of the whole set, and of every list
// of sets an informer reads.
func (p *NodeProgram) UnmarshalJSON(data []byte) error {
	type plain NodeProgram // without this method
	*p = NodeProgram{}
	if err := json.UnmarshalCaseSensitivePreserveInts(data, (*plain)(p)); err != nil {
		p.Invalid = fmt.Sprintf("the entry does not decode: %v", err)
	}
	return nil
}
