// Package buildinfo says which build of bpfleet is running: the version
// and revision the release build stamped in (hack/images, through the
// linker), else what the go command recorded (the module version, the git
// revision of a build from a checkout). The CLI prints it (bpfleet
// version), the operator and the agent log it when they start and export
// it as a metric (<prefix>_build_info, always 1, labelled with it).
package buildinfo
