// Package e2e drives the whole system as a user does: a real apiserver, a
// real registry on loopback, the operator and the agent against the host
// kernel (localstack), manifests applied through the API, status read back,
// and the kernel checked for what status claims.
package e2e
