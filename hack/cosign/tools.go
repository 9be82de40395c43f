//go:build tools

// Package tools pins the cosign CLI that the signature tests run against:
// hack/cosign.sh builds it from the Go module proxy into bin/.
package tools

import _ "github.com/sigstore/cosign/v2/cmd/cosign"
