import { newAttributes, newLogRecord, type LogBatch } from '../src/pipeline/model.js';

const SERVICES = ['checkout', 'payments', 'inventory', 'search', 'auth'];
const ROUTES = ['/api/orders/{id}', '/api/cart', '/api/users/{id}/profile', '/healthz', '/api/search'];
const TEMPLATES = [
  (i: number) => `Connection timeout after ${i % 60}s to upstream 10.${i % 255}.${(i >> 3) % 255}.${i % 7}:5432`,
  (i: number) =>
    `User user-${i % 5000} logged in from 192.168.${i % 255}.${(i * 7) % 255} using session ${(i * 2654435761) >>> 0}`,
  (i: number) => `GET /api/orders/${100000 + i} completed status=200 duration_ms=${i % 900} bytes=${(i * 37) % 100000}`,
  (i: number) => `Cache miss for key product:${i % 20000}:price, fetching from primary (attempt ${(i % 3) + 1})`,
  (i: number) =>
    `Payment ${i.toString(16)} authorised for amount ${(i % 10000) / 100} EUR card ****${1000 + (i % 9000)}`,
];

/**
 * Realistic OTLP log batches for benchmarks: k8s resource attributes, a scope, 120-ish character
 * bodies from a handful of templates, 6 log attributes of mixed kinds, trace context. With
 * `bodies`, the records' bodies are those instead, in turn (batch `seed` continues where
 * `seed - 1` ended).
 */
export function benchmarkBatch(records: number, seed: number, bodies?: readonly string[]): LogBatch {
  const service = SERVICES[seed % SERVICES.length]!;
  const resource = newAttributes();
  resource['service.name'] = service;
  resource['service.version'] = '2.14.1';
  resource['host.name'] = `node-${seed % 16}`;
  resource['k8s.namespace.name'] = 'shop';
  resource['k8s.pod.name'] = `${service}-7d9f8c6b5-${(seed * 7919).toString(36).slice(0, 5)}`;
  resource['k8s.node.name'] = `node-${seed % 16}`;
  resource['deployment.environment.name'] = 'production';
  const now = BigInt(Date.now()) * 1_000_000n;
  const logRecords = [];
  for (let j = 0; j < records; j++) {
    const i = seed * records + j;
    const r = newLogRecord();
    r.timeUnixNano = now + BigInt(j * 1000);
    r.observedTimeUnixNano = r.timeUnixNano + 250_000n;
    r.severityNumber = j % 20 === 0 ? 17 : 9;
    r.severityText = j % 20 === 0 ? 'ERROR' : 'INFO';
    r.body = bodies ? bodies[i % bodies.length]! : TEMPLATES[j % TEMPLATES.length]!(i);
    r.attributes = newAttributes();
    r.attributes['http.route'] = ROUTES[j % ROUTES.length]!;
    r.attributes['http.response.status_code'] = BigInt(j % 20 === 0 ? 500 : 200);
    r.attributes['duration.ms'] = (i % 1000) / 7;
    r.attributes['user.id'] = `user-${i % 5000}`;
    r.attributes['retry'] = j % 3 === 0;
    r.attributes['thread.id'] = BigInt(j % 32);
    r.traceId = (BigInt(i) * 0x9e3779b97f4a7c15n).toString(16).padStart(32, '0').slice(-32);
    r.spanId = (BigInt(i) * 0x85ebca6bn).toString(16).padStart(16, '0').slice(-16);
    r.flags = 1;
    logRecords.push(r);
  }
  return {
    resourceLogs: [
      {
        resource: { attributes: resource, droppedAttributesCount: 0 },
        schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
        scopeLogs: [
          {
            scope: {
              name: `com.shop.${service}`,
              version: '2.14.1',
              attributes: newAttributes(),
              droppedAttributesCount: 0,
            },
            schemaUrl: '',
            logRecords,
          },
        ],
      },
    ],
  };
}
