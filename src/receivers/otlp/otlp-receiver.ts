import type { ComponentContext, Receiver } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { type OtlpReceiverConfig } from './config.js';
import { OtlpGrpcServer } from './grpc-server.js';
import { OtlpHttpServer } from './http-server.js';

export class OtlpReceiver implements Receiver {
  readonly grpc: OtlpGrpcServer | undefined;
  readonly http: OtlpHttpServer | undefined;

  constructor(config: OtlpReceiverConfig, context: ComponentContext, next: LogsConsumer) {
    const { grpc, http } = config.protocols;
    this.grpc = grpc ? new OtlpGrpcServer(grpc, context, next) : undefined;
    this.http = http ? new OtlpHttpServer(http, context, next) : undefined;
  }

  async start(): Promise<void> {
    await this.grpc?.start();
    await this.http?.start();
  }

  async shutdown(deadline: number): Promise<void> {
    await Promise.all([this.grpc?.shutdown(deadline), this.http?.shutdown(deadline)]);
  }
}
