package v1alpha1

// Condition types, read by kstatus, Flux and Argo CD.
const (
	// ConditionReady is True when the program runs on every selected node
	// that can run it.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the program is being rolled out.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when progress needs a change of spec.
	ConditionStalled = "Stalled"
	// ConditionMapFull is True when a MapPolicy's map is fuller than its
	// fillWarningPercent on some node.
	ConditionMapFull = "MapFull"
)

// Condition reasons (and node failure reasons).
const (
	ReasonReady           = "Ready"
	ReasonProgressing     = "Progressing"
	ReasonNoNodesSelected = "NoNodesSelected"
	// ReasonImageNotAllowed: a BpfApplication names an image the
	// cluster's BpfApplicationPolicy does not allow (or there is none).
	ReasonImageNotAllowed = "ImageNotAllowed"
	// ReasonOutsideNamespace: a BpfApplication names a Secret or grants
	// maps in a namespace other than its own.
	ReasonOutsideNamespace = "OutsideNamespace"
	// ReasonNoTargets: the program runs where selected, but its pod
	// selectors match no running pod on any node (Ready=True: nothing is
	// wrong, and nothing is attached).
	ReasonNoTargets = "NoTargets"
	// ReasonPodTargetsFailed: the program runs, but failed to attach in
	// some of the pods its selectors match (Ready=False; the nodes'
	// reports say which pods and why; retried on each pass).
	ReasonPodTargetsFailed = "PodTargetsFailed"
	ReasonResolveFailed    = "ResolveFailed"
	// ReasonImageNotFound: the registry holds no such repository, tag or
	// digest. Stalled until it does (the operator looks again now and
	// then) or the reference changes.
	ReasonImageNotFound = "ImageNotFound"
	// ReasonImageUnauthorized: the registry refuses the pull secret's
	// credentials, or asks for credentials and none were given. Stalled
	// until they are fixed.
	ReasonImageUnauthorized = "ImageUnauthorized"
	ReasonNodeFailures      = "NodeFailures"
	ReasonDeleting          = "Deleting"
	ReasonVerifierRejected  = "VerifierRejected"
	ReasonProgramNotFound   = "ProgramNotFound"
	ReasonInvalidObject     = "InvalidObject"
	ReasonInvalidGlobal     = "InvalidGlobalData"
	ReasonAttachFailed      = "AttachFailed"
	ReasonUnsupported       = "Unsupported"
	ReasonLoadFailed        = "LoadFailed"
	ReasonImagePullFailed   = "ImagePullFailed"
	ReasonInvalidImage      = "InvalidImage"
	ReasonImageTooLarge     = "ImageTooLarge"
	ReasonNotBPF            = "NotBPF"
	ReasonWrongEndianness   = "WrongEndianness"
	// ReasonSignatureInvalid: the image is unsigned, or no signature
	// verifies with the keys its policy names.
	ReasonSignatureInvalid = "SignatureInvalid"
	// ReasonRolloutHalted: the latest generation failed on a node, and
	// the other nodes keep the previous one.
	ReasonRolloutHalted = "RolloutHalted"
	// ReasonRolloutPaused: spec.rollout.paused holds a change back.
	ReasonRolloutPaused = "RolloutPaused"
	ReasonInvalidSpec   = "InvalidSpec"
	ReasonUnloadFailed  = "UnloadFailed"
	ReasonWaiting       = "Waiting"
	// ReasonNotScheduled: a program the node runs while its set is one the
	// operator has not written (the agent made it anew): kept running.
	ReasonNotScheduled    = "NotScheduled"
	ReasonMapIncompatible = "MapIncompatible"
	// ReasonPinRootUnavailable: the agent's pin root left its BPF
	// filesystem (unmounted) and could not be made again: the node loads
	// nothing until it can.
	ReasonPinRootUnavailable = "PinRootUnavailable"
	ReasonBadEntries         = "BadEntries"
	ReasonMapFull            = "MapFull"
	ReasonNoPrograms         = "NoPrograms"
	ReasonRemoved            = "Removed"
	// ReasonAgentNotReporting: the node's agent has given no sign of life
	// for a while; its node counts as pending.
	ReasonAgentNotReporting = "AgentNotReporting"
	// ReasonNodeSpecTooLarge: the node's NodeProgramSet cannot hold the
	// program (or its new generation) besides the others it runs: the
	// object would be larger than the API server stores. The node keeps
	// what it runs; removing programs from it, or making globalData
	// smaller, makes room.
	ReasonNodeSpecTooLarge = "NodeSpecTooLarge"
	// ReasonInvalidReport: the node's agent reported the program in an
	// entry that does not decode; the message says why.
	ReasonInvalidReport = "InvalidReport"

	// ReasonImageMismatch: the image lacks what the resource names (a
	// program, a program of the hook's type, a global variable or a
	// value that fits it, a MapPolicy's map); the message lists what the
	// image has. The operator finds it before any node is asked to load
	// the image: Stalled until the spec or the image (a new push of the
	// tag) changes.
	ReasonImageMismatch = "ImageMismatch"
	// ReasonMapNotWritable: a MapPolicy lists entries for a map of a type
	// that holds none a policy can write (a ring buffer, a perf event
	// array, a program array, a map of maps...), as the image says; the
	// message names the map, its type and the types a policy writes.
	// Stalled until the spec or the image changes; nodes keep what they
	// enforce.
	ReasonMapNotWritable = "MapNotWritable"
)

// AgentLeaseLabel marks the coordination.k8s.io Lease by which a node's
// agent says it is alive: one per node, named after the node, in the
// agents' namespace, renewed well within its leaseDurationSeconds. Its
// value is the node's name.
const AgentLeaseLabel = "bpfleet.io/agent-node"

// Finalizer holds a program until every node has unloaded it.
const Finalizer = "bpfleet.io/unload"

// NodeProgramSetCRD is the name of the NodeProgramSets' CRD. Its deletion
// is bpfleet being uninstalled: deleting it deletes every node's set, and
// `kubectl delete -k config/default` deletes it first. Every agent then
// unloads all it runs, and the operator releases every program without
// waiting for the nodes.
const NodeProgramSetCRD = "nodeprogramsets.bpfleet.io"
