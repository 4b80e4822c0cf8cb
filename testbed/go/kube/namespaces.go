package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/kubernetes/pkg/controller/namespace/deletion"
)

// The upstream namespace controller waits 5 s after it sees a namespace marked for deletion
// before it starts removing its content, so that every apiserver of an HA control plane and
// every etcd member has seen the deletion; then, while pods or finalized objects remain, it
// retries after half their grace period plus a second. The testbed has one apiserver and one
// etcd member, and kwok removes a deleted pod at once, so those waits only slow down every
// teardown the tests and the demo make. The testbed's controller-manager therefore runs without
// the upstream loop and with this one: the same deleter, started as soon as a namespace is
// marked, and retried shortly while content remains.
const (
	namespaceWorkers        = 10
	namespaceContentRecheck = 250 * time.Millisecond
	// The controller-manager disables the upstream loop under this name.
	upstreamNamespaceController = "namespace-controller"
)

func runNamespaceDeleter(ctx context.Context, kubeconfig string) error {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("loading %s: %w", kubeconfig, err)
	}
	// One list and one delete per resource type and namespace: upstream multiplies its client's
	// budget for the same reason.
	config.QPS, config.Burst = 500, 1000
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	metadataClient, err := metadata.NewForConfig(config)
	if err != nil {
		return err
	}
	deleter := deletion.NewNamespacedResourcesDeleter(ctx, client.CoreV1().Namespaces(), metadataClient, client.CoreV1(),
		client.Discovery().ServerPreferredNamespacedResources, v1.FinalizerKubernetes)

	queue := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 10*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "testbed-namespace"},
	)
	defer queue.ShutDown()
	enqueue := func(obj any) {
		if ns, ok := obj.(*v1.Namespace); ok && ns.DeletionTimestamp != nil {
			queue.Add(ns.Name)
		}
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	informer := factory.Core().V1().Namespaces().Informer()
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return errors.New("namespace informer never synced")
	}

	for range namespaceWorkers {
		go func() {
			for {
				name, quit := queue.Get()
				if quit {
					return
				}
				err := deleter.Delete(ctx, name)
				var remaining *deletion.ResourcesRemainingError
				switch {
				case err == nil:
					queue.Forget(name)
				case errors.As(err, &remaining):
					queue.AddAfter(name, namespaceContentRecheck)
				default:
					fmt.Fprintf(os.Stderr, "testbed namespace deleter: %s: %v\n", name, err)
					queue.AddRateLimited(name)
				}
				queue.Done(name)
			}
		}()
	}
	<-ctx.Done()
	return nil
}

// kubeconfigArg returns the value of --kubeconfig among the controller-manager's arguments.
func kubeconfigArg(args []string) string {
	for i, arg := range args {
		if value, ok := strings.CutPrefix(arg, "--kubeconfig="); ok {
			return value
		}
		if arg == "--kubeconfig" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}
