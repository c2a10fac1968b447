// Command etcd is the etcd 3.6 server, built from the Go module proxy.
//
// go.etcd.io/etcd/server/v3's go.mod replaces its sibling modules with
// ../api, ../client etc., so `go install go.etcd.io/etcd/server/v3@v3.6.x`
// is refused. As a dependency of this module those replaces are ignored and
// the siblings resolve to their published releases of the same version.
// etcdmain.Main is what upstream's own server main calls, so flags, defaults
// and exit behaviour are the real etcd ones (--data-dir, --listen-client-urls,
// --advertise-client-urls, --listen-peer-urls, ...).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
