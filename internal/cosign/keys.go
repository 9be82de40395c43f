package cosign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// PEM block types of the key files `cosign generate-key-pair` writes.
const (
	pemPublicKey = "PUBLIC KEY"
	// pemPrivateKey is cosign's since v2.2; pemPrivateKeyOld the earlier
	// name of the same format.
	pemPrivateKey    = "ENCRYPTED SIGSTORE PRIVATE KEY"
	pemPrivateKeyOld = "ENCRYPTED COSIGN PRIVATE KEY"
)

// The scrypt cost cosign encrypts private keys with; decryption accepts
// the parameters the file names, up to maxScryptN.
const (
	scryptN    = 32768
	scryptR    = 8
	scryptP    = 1
	maxScryptN = 1 << 20
	// maxScryptMemory bounds what a hostile key file makes scrypt allocate
	// (128·N·r bytes); cosign's own keys take 32 MiB.
	maxScryptMemory = 256 << 20
)

// ErrWrongPassword is returned by ParsePrivateKey when the password does not
// open the key.
var ErrWrongPassword = errors.New("wrong password for the private key (set COSIGN_PASSWORD)")

// ParsePublicKey reads a PEM "PUBLIC KEY" (PKIX) file such as cosign.pub.
// ECDSA, RSA and Ed25519 keys are accepted.
func ParsePublicKey(pemBytes []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != pemPublicKey {
		return nil, fmt.Errorf("public key: want a PEM %q block, as in cosign.pub", pemPublicKey)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	switch key.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
		return key, nil
	}
	return nil, fmt.Errorf("public key: type %T is not supported (want ECDSA, RSA or Ed25519)", key)
}

// encryptedKey is the JSON inside cosign's encrypted private key PEM: a
// PKCS#8 key sealed with NaCl secretbox under a key derived by scrypt from
// the password (the format of go-securesystemslib's encrypted package).
type encryptedKey struct {
	KDF struct {
		Name   string `json:"name"`
		Params struct {
			N int `json:"N"`
			R int `json:"r"`
			P int `json:"p"`
		} `json:"params"`
		Salt []byte `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

// ParsePrivateKey reads a private key file written by `cosign
// generate-key-pair` (or EncryptPrivateKey), opening it with password.
func ParsePrivateKey(pemBytes, password []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || (block.Type != pemPrivateKey && block.Type != pemPrivateKeyOld) {
		return nil, fmt.Errorf("private key: want a PEM %q block, as in cosign.key", pemPrivateKey)
	}
	var enc encryptedKey
	if err := json.Unmarshal(block.Bytes, &enc); err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	der, err := enc.open(password)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key: type %T cannot sign", key)
	}
	if _, err := hashFor(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

func (e *encryptedKey) open(password []byte) ([]byte, error) {
	p := e.KDF.Params
	switch {
	case e.KDF.Name != "scrypt" || e.Cipher.Name != "nacl/secretbox":
		return nil, fmt.Errorf("private key: encrypted with %s and %s, want scrypt and nacl/secretbox", e.KDF.Name, e.Cipher.Name)
	case p.N <= 1 || p.N > maxScryptN || p.R <= 0 || p.P <= 0 || p.R*p.P > 64 || 128*p.N*p.R > maxScryptMemory:
		return nil, fmt.Errorf("private key: scrypt parameters N=%d r=%d p=%d out of range", p.N, p.R, p.P)
	case len(e.Cipher.Nonce) != 24:
		return nil, fmt.Errorf("private key: nonce of %d bytes, want 24", len(e.Cipher.Nonce))
	}
	k, err := scrypt.Key(password, e.KDF.Salt, p.N, p.R, p.P, 32)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	der, ok := secretbox.Open(nil, e.Ciphertext, (*[24]byte)(e.Cipher.Nonce), (*[32]byte)(k))
	if !ok {
		return nil, ErrWrongPassword
	}
	return der, nil
}

// GenerateKeyPair makes an ECDSA P-256 key pair in cosign's file formats:
// the private key encrypted with password, and the public key.
func GenerateKeyPair(password []byte) (privatePEM, publicPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	if privatePEM, err = encryptPrivateKey(der, password); err != nil {
		return nil, nil, err
	}
	publicPEM, err = PublicKeyPEM(key.Public())
	return privatePEM, publicPEM, err
}

func encryptPrivateKey(der, password []byte) ([]byte, error) {
	var enc encryptedKey
	enc.KDF.Name, enc.Cipher.Name = "scrypt", "nacl/secretbox"
	enc.KDF.Params.N, enc.KDF.Params.R, enc.KDF.Params.P = scryptN, scryptR, scryptP
	enc.KDF.Salt, enc.Cipher.Nonce = make([]byte, 32), make([]byte, 24)
	if _, err := rand.Read(enc.KDF.Salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(enc.Cipher.Nonce); err != nil {
		return nil, err
	}
	k, err := scrypt.Key(password, enc.KDF.Salt, scryptN, scryptR, scryptP, 32)
	if err != nil {
		return nil, err
	}
	enc.Ciphertext = secretbox.Seal(nil, der, (*[24]byte)(enc.Cipher.Nonce), (*[32]byte)(k))
	body, err := json.Marshal(enc)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: body}), nil
}
