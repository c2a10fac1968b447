//go:build tools

// Package tools is never compiled: it only tells `go mod tidy` that this
// module needs the Pulumi CLI's main package (and the sdk package that the
// version stamp -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
// targets), so the requirements and go.sum entries stay in go.mod/go.sum.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
	_ "github.com/pulumi/pulumi/sdk/v3/go/common/version"
)
