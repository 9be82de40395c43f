package controllers

import (
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Internals the package's envtest tests (package controllers_test) check.
var (
	IndexNodeObjects = indexNodeObjects
	StatesHolding    = func(ctx context.Context, c client.Reader, uid types.UID) ([]string, error) {
		states, err := statesHolding(ctx, c, programsHeld, uid)
		names := make([]string, 0, len(states))
		for _, s := range states {
			names = append(names, s.Name)
		}
		slices.Sort(names)
		return names, err
	}
)

// The field indexes of the sets and reports.
const (
	SetProgramsField    = setProgramsField
	ReportProgramsField = reportProgramsField
)
