// Temporal's protobuf messages that Shipyard serialises itself. @temporalio/proto is CommonJS
// whose named exports Node's ESM loader cannot detect (`import { temporal }` fails under tsx and
// node, though it works under vitest), so the namespace is taken from its default export, here once.
import proto from '@temporalio/proto';

export const Payload = proto.temporal.api.common.v1.Payload;
export const History = proto.temporal.api.history.v1.History;
