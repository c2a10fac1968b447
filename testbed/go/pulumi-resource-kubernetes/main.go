// Command pulumi-resource-kubernetes is the Pulumi Kubernetes provider,
// built from the Go module proxy.
//
// Upstream's cmd/pulumi-resource-kubernetes/main.go go:embeds
// schema-embed.json and terraform-mapping-embed.json, which its generate.go
// writes from the committed schema.json/terraform-mapping.json and which are
// git-ignored, so they are not in the module zip and that package does not
// build from the proxy. This main does the same job: testbed/toolchain.ts
// copies this module to a scratch build directory, writes the two -embed
// files there from the module's schema.json (compacted, "version" set to the
// stamped version, as generate.go does) and terraform-mapping.json
// (compacted), then builds. The -embed files never live in the repository.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	// version.Version is stamped with -ldflags -X to the version the npm
	// package @pulumi/kubernetes asks for, so the engine accepts the plugin.
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
