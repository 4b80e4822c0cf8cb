// `helm`, for the chart tests: a tool of the testbed's Go module (testbed/go/kube/go.mod pins its
// version), built with the Kubernetes binaries and cached beside them (no prebuilt Helm comes
// from the registries this machine reaches).
import { ensureBinary } from './components/kubernetes';

/**
 * The cached helm of the pinned version, built now when missing.
 * A source build reports a low default Kubernetes version, so pass `--kube-version` to `template`/`lint`.
 */
export async function helmBinary(say: (message: string) => void = console.log): Promise<string> {
  return ensureBinary('helm', say, 'helm');
}
