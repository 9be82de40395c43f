package pods

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimev1 "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Runtime finds the first process of a pod's sandbox and of a container.
type Runtime interface {
	// SandboxPID is the PID of the ready sandbox of pod uid (ErrNotFound
	// without one).
	SandboxPID(ctx context.Context, uid string) (int, error)
	// ContainerPID is the PID of the first process of container id, as
	// the pod's status names it ("containerd://<id>").
	ContainerPID(ctx context.Context, id string) (int, error)
}

// ErrNotFound says the runtime runs no such sandbox or container.
var ErrNotFound = errors.New("not running in the container runtime")

// criTimeout bounds each call to the runtime.
const criTimeout = 5 * time.Second

// CRI is the node's container runtime, through its CRI socket.
type CRI struct {
	conn *grpc.ClientConn
	rt   runtimev1.RuntimeServiceClient
}

var _ Runtime = (*CRI)(nil)

// NewCRI connects (lazily) to the CRI endpoint, e.g.
// unix:///run/containerd/containerd.sock.
func NewCRI(endpoint string) (*CRI, error) {
	if !strings.HasPrefix(endpoint, "unix://") {
		return nil, fmt.Errorf("container runtime endpoint %q: want unix:///path/to/socket", endpoint)
	}
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("container runtime %s: %w", endpoint, err)
	}
	return &CRI{conn: conn, rt: runtimev1.NewRuntimeServiceClient(conn)}, nil
}

// Close closes the connection.
func (c *CRI) Close() error { return c.conn.Close() }

// SandboxPID implements Runtime.
func (c *CRI) SandboxPID(ctx context.Context, uid string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, criTimeout)
	defer cancel()
	list, err := c.rt.ListPodSandbox(ctx, &runtimev1.ListPodSandboxRequest{Filter: &runtimev1.PodSandboxFilter{
		State:         &runtimev1.PodSandboxStateValue{State: runtimev1.PodSandboxState_SANDBOX_READY},
		LabelSelector: map[string]string{"io.kubernetes.pod.uid": uid},
	}})
	if err != nil {
		return 0, fmt.Errorf("container runtime: list sandboxes: %w", err)
	}
	if len(list.Items) == 0 {
		return 0, fmt.Errorf("pod %s: no ready sandbox: %w", uid, ErrNotFound)
	}
	st, err := c.rt.PodSandboxStatus(ctx, &runtimev1.PodSandboxStatusRequest{PodSandboxId: list.Items[0].Id, Verbose: true})
	if err != nil {
		return 0, fmt.Errorf("container runtime: sandbox %s: %w", list.Items[0].Id, err)
	}
	return infoPID("sandbox "+list.Items[0].Id, st.Info)
}

// ContainerPID implements Runtime.
func (c *CRI) ContainerPID(ctx context.Context, id string) (int, error) {
	_, bare, ok := strings.Cut(id, "://")
	if !ok || bare == "" {
		return 0, fmt.Errorf("container id %q: want <runtime>://<id>", id)
	}
	ctx, cancel := context.WithTimeout(ctx, criTimeout)
	defer cancel()
	st, err := c.rt.ContainerStatus(ctx, &runtimev1.ContainerStatusRequest{ContainerId: bare, Verbose: true})
	if err != nil {
		return 0, fmt.Errorf("container runtime: container %s: %w", bare, err)
	}
	if st.Status.GetState() != runtimev1.ContainerState_CONTAINER_RUNNING {
		return 0, fmt.Errorf("container %s: %w", bare, ErrNotFound)
	}
	return infoPID("container "+bare, st.Info)
}

// infoPID reads the PID from a verbose status's "info" JSON, as
// containerd (and CRI-O) write it.
func infoPID(what string, info map[string]string) (int, error) {
	var v struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal([]byte(info["info"]), &v); err != nil || v.PID <= 0 {
		return 0, fmt.Errorf("%s: the runtime's verbose status names no pid (%v)", what, err)
	}
	return v.PID, nil
}
