// Failure messages and stack traces go into the failure's encoded attributes, so the payload
// codec encrypts them like any other payload (Temporal then shows "Encoded failure" unless the
// UI decodes through the codec server). Plain CommonJS on purpose: the SDK require()s this path
// in the worker and client processes (under tsx, vitest or compiled JS alike) and bundles it
// into the workflow sandbox.
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
