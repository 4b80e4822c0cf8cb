// The workflow bundle's entry point: every operation Shipyard runs on an instance.
export { provisionInstance } from './provision';
export { resumeInstance, suspendInstance } from './suspend-resume';
export { teardownInstance } from './teardown';
export { upgradeInstance } from './upgrade';
