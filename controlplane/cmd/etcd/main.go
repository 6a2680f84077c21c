// Command etcd is the etcd server at the version Kubernetes itself depends on,
// so the API server and its storage are built from one module graph.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
