import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** proto/ sits at the package root; the compiled module is a few levels below it. */
function findProtoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'proto', 'opentelemetry'))) return join(dir, 'proto');
    const parent = dirname(dir);
    if (parent === dir) throw new Error('otelhouse: cannot find the proto/ directory of the package');
    dir = parent;
  }
}

const PROTO_DIR = findProtoDir();

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
root.loadSync([
  'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  'google/rpc/status.proto',
  'google/rpc/error_details.proto',
]);

export const ExportLogsServiceRequest = root.lookupType(
  'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest',
);
export const ExportLogsServiceResponse = root.lookupType(
  'opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse',
);
export const RpcStatus = root.lookupType('google.rpc.Status');
export const RpcRetryInfo = root.lookupType('google.rpc.RetryInfo');
export const SeverityNumberEnum = root.lookupEnum('opentelemetry.proto.logs.v1.SeverityNumber');
