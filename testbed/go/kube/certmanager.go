package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	controller "github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	// Each of these registers its control loop (or issuer type) in init; only
	// what the CA/self-signed flow needs is linked in: no ACME, Vault, Venafi,
	// ingress-shim or Gateway API.
	"github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

var certManagerControllers = []string{
	issuers.ControllerName,
	clusterissuers.ControllerName,
	approver.ControllerName,
	crca.CRControllerName,
	crselfsigned.CRControllerName,
	trigger.ControllerName,
	keymanager.ControllerName,
	requestmanager.ControllerName,
	issuing.ControllerName,
	readiness.ControllerName,
	revisionmanager.ControllerName,
}

// runCertManager runs cert-manager's control loops from its library packages.
// Its own command lives in a separate Go module that is not published on the
// module proxy, so this is the small part of it the testbed needs: no leader
// election (one replica), no webhook, no metrics server.
func runCertManager(args []string) int {
	fs := flag.NewFlagSet("cert-manager-controller", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster")
	clusterResourceNamespace := fs.String("cluster-resource-namespace", "cert-manager",
		"namespace holding the secrets that ClusterIssuers refer to")
	_ = fs.Parse(args)

	logf.InitLogs()
	defer logf.FlushLogs()
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	ctx = logf.NewContext(ctx, logf.Log, "cert-manager-controller")

	factory, err := controller.NewContextFactory(ctx, controller.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   50,
		KubernetesAPIBurst: 100,
		IssuerOptions:      controller.IssuerOptions{ClusterResourceNamespace: *clusterResourceNamespace},
		CertificateOptions: controller.CertificateOptions{
			// Upstream waits an hour before retrying a failed request; a test bed
			// should recover from a transient failure while a test still waits.
			CertificateRequestMinimumBackoffDuration: 5 * time.Second,
			CertificateRequestMaximumBackoffDuration: time.Minute,
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager-controller:", err)
		return 1
	}

	known := controller.Known()
	var wg sync.WaitGroup
	failed := make(chan error, len(certManagerControllers))
	for _, name := range certManagerControllers {
		construct, ok := known[name]
		if !ok {
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			fmt.Fprintf(os.Stderr, "cert-manager-controller: %q is not registered (have %v)\n", name, names)
			return 1
		}
		loop, err := construct(factory)
		if err != nil {
			fmt.Fprintf(os.Stderr, "cert-manager-controller: building %s: %v\n", name, err)
			return 1
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := loop.Run(5, ctx); err != nil {
				failed <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}

	// The informers are created lazily by the constructors above, so they can
	// only be started once every loop exists.
	shared, err := factory.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager-controller:", err)
		return 1
	}
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.SharedInformerFactory.Start(ctx.Done())
	fmt.Fprintln(os.Stderr, "cert-manager-controller: started", certManagerControllers)

	select {
	case <-ctx.Done():
		wg.Wait()
		return 0
	case err := <-failed:
		fmt.Fprintln(os.Stderr, "cert-manager-controller:", err)
		return 1
	}
}
