package cosign

import (
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// Media types and names of cosign's signature format (the "simple signing"
// payload, one layer per signature, in a manifest tagged after the digest).
const (
	// MediaTypeSimpleSigning is the media type of a signature layer: the
	// payload that was signed.
	MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	// AnnotationSignature holds the base64 signature of the layer's payload.
	AnnotationSignature = "dev.cosignproject.cosign/signature"
	// payloadType is the "type" every cosign image signature names.
	payloadType = "cosign container image signature"
)

// payload is the simple signing document cosign signs: it binds the
// signature to one manifest digest.
type payload struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// newPayload returns the payload that signs dgst in repository repo
// ("registry/name", without tag or digest).
func newPayload(repo string, dgst digest.Digest) ([]byte, error) {
	var p payload
	p.Critical.Identity.DockerReference = repo
	p.Critical.Image.DockerManifestDigest = dgst.String()
	p.Critical.Type = payloadType
	return json.Marshal(p)
}

// checkPayload returns an error unless raw is a cosign payload for dgst.
// The docker-reference is not checked, as cosign does not: an image copied
// to a mirror keeps its signatures.
func checkPayload(raw []byte, dgst digest.Digest) error {
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	if p.Critical.Type != payloadType {
		return fmt.Errorf("payload: type %.80q, want %q", p.Critical.Type, payloadType)
	}
	if got := p.Critical.Image.DockerManifestDigest; got != dgst.String() {
		return fmt.Errorf("payload signs %.80s, not %s", got, dgst)
	}
	return nil
}

// SignatureTag is the tag under which cosign stores the signatures of dgst
// in the image's repository: "sha256-<hex>.sig".
func SignatureTag(dgst digest.Digest) string {
	return fmt.Sprintf("%s-%s.sig", dgst.Algorithm(), dgst.Encoded())
}
