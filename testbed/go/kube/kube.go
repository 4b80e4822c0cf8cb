package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // CronJob time zones, as the upstream mains do

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func runAPIServer(_ []string) int { return cli.Run(apiserver.NewAPIServerCommand()) }

// runControllerManager runs the upstream controller-manager with its namespace loop replaced
// by the testbed's (see namespaces.go), which runs in the same process and lives as long.
func runControllerManager(args []string) int {
	kubeconfig := kubeconfigArg(args)
	if kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "kube-controller-manager: --kubeconfig is required on the testbed")
		return 2
	}
	os.Args = append(os.Args, "--controllers=*,-"+upstreamNamespaceController)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	go func() {
		if err := runNamespaceDeleter(ctx, kubeconfig); err != nil {
			fmt.Fprintln(os.Stderr, "testbed namespace deleter:", err)
			os.Exit(1)
		}
	}()
	return cli.Run(controllermanager.NewControllerManagerCommand())
}

func runScheduler(_ []string) int { return cli.Run(scheduler.NewSchedulerCommand()) }
