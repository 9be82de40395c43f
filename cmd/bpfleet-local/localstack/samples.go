package localstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// ApplySamples creates every object in the YAML files of dir (kustomization
// files aside), with the example image's registry rewritten to this stack's.
func (s *Stack) ApplySamples(ctx context.Context, dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		created, err := s.applyFile(ctx, f)
		if err != nil {
			return names, fmt.Errorf("apply %s: %w", f, err)
		}
		names = append(names, created...)
	}
	return names, nil
}

func (s *Stack) applyFile(ctx context.Context, path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = []byte(strings.ReplaceAll(string(b), "127.0.0.1:5000/", s.Registry+"/"))
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var names []string
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return names, nil
			}
			return names, err
		}
		if len(u.Object) == 0 {
			continue
		}
		if err := s.Client.Create(ctx, &u); err != nil {
			return names, err
		}
		names = append(names, u.GetKind()+"/"+u.GetName())
	}
}
