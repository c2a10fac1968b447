//go:build tools

// Package tools is never compiled: it only tells `go mod tidy` that this
// module needs these main packages (and the version packages the -X stamps
// target), so go.mod/go.sum keep every requirement they have.
package tools

import (
	_ "k8s.io/client-go/pkg/version"
	_ "k8s.io/component-base/version"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
