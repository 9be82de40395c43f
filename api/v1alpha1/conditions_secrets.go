package v1alpha1

// ReasonSecretNamespaceNotAllowed: the resource names a Secret (a pull
// secret, a signature key) in a namespace the operator does not serve
// (its --secret-namespaces, default the install namespace). The operator
// neither reads that Secret nor lets any agent read it, and the resource
// is not scheduled at that generation; its message names the namespaces
// served.
const ReasonSecretNamespaceNotAllowed = "SecretNamespaceNotAllowed"
