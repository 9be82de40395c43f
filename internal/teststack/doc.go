// Package teststack gives the test packages that run the whole system (the
// e2e tests, the corpus) one local stack per test process: the operator
// and the agent in process, against a real kube-apiserver, the host
// kernel and a registry on 127.0.0.1, and the checks that it left nothing
// behind.
package teststack
