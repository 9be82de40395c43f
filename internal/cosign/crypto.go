package cosign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// errBadSignature is wrapped by the error of a signature that does not
// verify with a key.
var errBadSignature = errors.New("signature does not verify")

// hashFor returns the digest cosign signs with a key of this type: SHA-256
// for ECDSA and RSA (PKCS #1 v1.5), none for Ed25519, which signs the
// message itself.
func hashFor(pub crypto.PublicKey) (crypto.Hash, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
		return crypto.SHA256, nil
	case ed25519.PublicKey:
		return 0, nil
	}
	return 0, fmt.Errorf("key type %T is not supported (want ECDSA, RSA or Ed25519)", pub)
}

// signPayload signs payload as cosign does.
func signPayload(key crypto.Signer, payload []byte) ([]byte, error) {
	h, err := hashFor(key.Public())
	if err != nil {
		return nil, err
	}
	if h == 0 {
		return key.Sign(rand.Reader, payload, crypto.Hash(0))
	}
	sum := sha256.Sum256(payload)
	return key.Sign(rand.Reader, sum[:], h)
}

// verifyPayload checks sig over payload with pub.
func verifyPayload(pub crypto.PublicKey, payload, sig []byte) error {
	sum := sha256.Sum256(payload)
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, sum[:], sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, payload, sig)
	}
	if !ok {
		return errBadSignature
	}
	return nil
}

// PublicKeyPEM encodes pub as cosign.pub is.
func PublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der}), nil
}
