// shipyard-kube is a multi-call binary: the first argument names the program
// to run. Linking everything into one binary means one link step and one
// compilation of the shared k8s.io libraries, which dominates the cold build.
package main

import (
	"fmt"
	"os"
	"sort"
)

var programs = map[string]func(args []string) int{
	"etcd":                    runEtcd,
	"kube-apiserver":          runAPIServer,
	"kube-controller-manager": runControllerManager,
	"kube-scheduler":          runScheduler,
	"kwok":                    runKwok,
	"cert-manager-controller": runCertManager,
	"pki":                     runPKI,
}

func main() {
	if len(os.Args) < 2 || programs[os.Args[1]] == nil {
		names := make([]string, 0, len(programs))
		for name := range programs {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "usage: %s <program> [flags]\nprograms: %v\n", os.Args[0], names)
		os.Exit(2)
	}
	// Each upstream command parses os.Args itself (cobra), so hide our selector.
	name := os.Args[1]
	os.Args = append([]string{name}, os.Args[2:]...)
	os.Exit(programs[name](os.Args[1:]))
}
