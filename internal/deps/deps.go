package deps

import (
	_ "github.com/cilium/ebpf"
	_ "github.com/cilium/ebpf/link"
	_ "github.com/cilium/ebpf/features"
	_ "github.com/cilium/ebpf/rlimit"
	_ "github.com/google/go-containerregistry/pkg/registry"
	_ "github.com/google/go-containerregistry/pkg/v1/mutate"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apimachinery/pkg/apis/meta/v1"
	_ "k8s.io/client-go/kubernetes"
	_ "oras.land/oras-go/v2"
	_ "oras.land/oras-go/v2/registry/remote"
	_ "oras.land/oras-go/v2/content/oci"
	_ "sigs.k8s.io/controller-runtime"
	_ "sigs.k8s.io/controller-runtime/pkg/envtest"
	_ "github.com/opencontainers/image-spec/specs-go/v1"
)
