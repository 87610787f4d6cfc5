import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer as createTlsServer } from 'node:tls';
import { parseHostPort } from '../../config/types.js';
import { ExponentialBackoff } from '../../internal/backoff.js';
import { waitUntilDeadline } from '../../internal/deadline.js';
import type { ComponentContext, Receiver } from '../../pipeline/component.js';
import type { LogsConsumer } from '../../pipeline/consumer.js';
import { BackPressureError, ShuttingDownError, errorMessage } from '../../pipeline/errors.js';
import type { LogBatch } from '../../pipeline/model.js';
import { listen } from '../http.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, ServerTlsCredentials } from '../tls.js';
import { type SyslogConfig } from './config.js';

/**
 * How often a held TCP connection offers its chunk again while the pipeline refuses it; no jitter:
 * one sender per connection, whose client waits anyway.
 */
const FLOW_CONTROL_BACKOFF = { initialMs: 50, maxMs: 2000, multiplier: 2, randomizationFactor: 0 };
import { SyslogFrameDecoder, type SyslogFrame } from './frame-decoder.js';
import { SyslogParser } from './parser.js';
import { SyslogBatchBuilder, type Peer } from './record-mapper.js';
import { udpReceiveDrops } from './udp-drops.js';

/** A connection quiet this long at shutdown has no more of what its sender already sent. */
const QUIET_MS = 100;
/** How long shutdown reads the connections at most. */
const MAX_READ_MS = 2000;

interface ConnectionState {
  lastRead: number;
  /** Paused while a chunk of frames is handed to the pipeline. */
  delivering: boolean;
  ended: boolean;
  /** No more reading: the receiver is shutting down and the connection was read. */
  stopped: boolean;
}

/**
 * Syslog over UDP (a message per datagram) and TCP or TLS (octet-counted or newline-framed). TCP
 * connections stop being read while the pipeline refuses data, so the kernel's flow control slows
 * the sender; UDP has no such signal, so what the pipeline refuses is dropped and counted.
 */
export class SyslogReceiver implements Receiver {
  private readonly parser: SyslogParser;
  private tcpServer: Server | undefined;
  private udpSocket: UdpSocket | undefined;
  private stopReportingUdpDrops: (() => void) | undefined;
  private tls: ServerTlsCredentials | undefined;
  private readonly connections = new Map<Socket, ConnectionState>();
  private readonly inFlight = new Set<Promise<void>>();
  private closing = false;
  tcpPort = 0;
  udpPort = 0;

  constructor(
    private readonly config: SyslogConfig,
    private readonly context: ComponentContext,
    private readonly next: LogsConsumer,
  ) {
    this.parser = new SyslogParser({ protocol: config.protocol, timeZone: config.location, year: config.year });
  }

  async start(): Promise<void> {
    if (this.config.tcp) await this.startTcp(this.config.tcp);
    if (this.config.udp) await this.startUdp(this.config.udp.listen_address);
  }

  private async startTcp(tcp: NonNullable<SyslogConfig['tcp']>): Promise<void> {
    const onConnection = (socket: Socket) => this.serveConnection(socket, tcp.idle_timeout);
    let server: Server;
    if (tcp.tls) {
      const tls = new ServerTlsCredentials(tcp.tls, this.context.logger);
      await tls.start();
      const tlsServer = createTlsServer(tls.serverOptions(DEFAULT_HANDSHAKE_TIMEOUT_MS), onConnection);
      tls.attach(tlsServer, () => this.context.telemetry.refusedRequest('tcp', 'tls_handshake_failed'));
      server = tlsServer;
      this.tls = tls;
    } else {
      server = createTcpServer(onConnection);
    }
    server.maxConnections = tcp.max_connections;
    server.on('drop', () => this.context.telemetry.refusedRequest('tcp', 'too_many_connections'));
    this.tcpPort = await listen(server, tcp.listen_address, 'syslog tcp');
    this.tcpServer = server;
    this.context.logger.info(
      { endpoint: tcp.listen_address, port: this.tcpPort, tls: Boolean(tcp.tls) },
      'syslog TCP receiver listening',
    );
  }

  private async startUdp(address: string): Promise<void> {
    const { host, port } = parseHostPort(address)!;
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    socket.on('message', (msg, rinfo) =>
      this.track(this.receiveDatagram(msg, { address: rinfo.address, port: BigInt(rinfo.port), transport: 'udp' })),
    );
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => reject(new Error(`syslog udp cannot listen on ${address}: ${err.message}`)));
      socket.bind(port, host, () => resolve());
    });
    socket.on('error', (err) => this.context.logger.error({ err: err.message }, 'syslog UDP socket error'));
    this.udpPort = socket.address().port;
    this.udpSocket = socket;
    // What the kernel drops never reaches the receiver: only its socket table tells.
    const udpPort = this.udpPort;
    this.stopReportingUdpDrops = this.context.telemetry.udpDropSource(() => udpReceiveDrops(udpPort));
    this.context.logger.info({ endpoint: `${host}:${this.udpPort}` }, 'syslog UDP receiver listening');
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async receiveDatagram(datagram: Buffer, peer: Peer): Promise<void> {
    if (this.closing) {
      this.context.telemetry.refused(1, 'udp', 'shutdown');
      return;
    }
    let end = datagram.length;
    while (end > 0 && (datagram[end - 1] === 0x0a || datagram[end - 1] === 0x00)) end--;
    if (isBlank(datagram, end)) {
      // A keep-alive or a sender's empty line: no message, so no record.
      this.context.telemetry.count('empty');
      return;
    }
    let truncated = false;
    if (end > this.config.max_message_size) {
      if (this.config.on_oversize === 'drop') {
        this.context.telemetry.refused(1, 'udp', 'too_large');
        return;
      }
      end = this.config.max_message_size;
      truncated = true;
    }
    try {
      await this.next.consume(
        this.buildBatch([{ text: datagram.toString('utf8', 0, end), truncated }], peer, Date.now(), true),
      );
      this.context.telemetry.accepted(1, 'udp');
    } catch (err) {
      this.context.telemetry.refused(1, 'udp', 'back_pressure');
      this.context.logger.debug({ err: errorMessage(err) }, 'syslog UDP message dropped: the pipeline refused it');
    }
  }

  /**
   * A new batch of the frames, parsed afresh: processors change records in place (a hash action,
   * redaction, templates counting), so a batch the pipeline has seen is never offered to it again.
   * `now` is read once per chunk of frames: one clock read and one BigInt instead of one per message.
   */
  private buildBatch(frames: SyslogFrame[], peer: Peer, now: number, countProblems: boolean): LogBatch {
    const builder = new SyslogBatchBuilder(this.config.keep_raw);
    const receivedNs = builder.receivedAt(now);
    for (const frame of frames) {
      const msg = this.parser.parse(frame.text, now);
      if (countProblems) {
        if (frame.truncated) this.context.telemetry.count('truncated');
        if (msg.error) this.context.telemetry.count('unparsed');
      }
      builder.add(msg, frame.text, peer, receivedNs, frame.truncated);
    }
    if (countProblems && builder.unrepresentableTimes > 0)
      this.context.telemetry.unrepresentableTimes(builder.unrepresentableTimes, peer.transport);
    return builder.take();
  }

  private serveConnection(socket: Socket, idleTimeout: number): void {
    const state: ConnectionState = { lastRead: Date.now(), delivering: false, ended: false, stopped: false };
    this.connections.set(socket, state);
    const peer: Peer = { address: socket.remoteAddress ?? '', port: BigInt(socket.remotePort ?? 0), transport: 'tcp' };
    const decoder = new SyslogFrameDecoder(this.config.max_message_size, this.config.on_oversize);
    const frames: SyslogFrame[] = [];
    const deliver = async (): Promise<void> => {
      if (decoder.dropped > 0) {
        this.context.telemetry.refused(decoder.dropped, 'tcp', 'too_large');
        decoder.dropped = 0;
      }
      if (frames.length === 0) return;
      const chunk = frames.splice(0);
      const n = chunk.length;
      const now = Date.now();
      // Hold the connection (not reading) until the pipeline takes the chunk.
      const backoff = new ExponentialBackoff(FLOW_CONTROL_BACKOFF);
      for (let attempt = 0; ; attempt++) {
        try {
          await this.next.consume(this.buildBatch(chunk, peer, now, attempt === 0));
          this.context.telemetry.accepted(n, 'tcp');
          return;
        } catch (err) {
          if (!(err instanceof BackPressureError) || err instanceof ShuttingDownError) {
            this.context.telemetry.refused(n, 'tcp', err instanceof ShuttingDownError ? 'shutdown' : 'error');
            return;
          }
          this.context.telemetry.count('flow_control_waits');
          await sleep(Math.min(backoff.next(), err.retryAfterMs));
        }
      }
    };
    socket.setTimeout(idleTimeout);
    socket.on('timeout', () => {
      this.context.telemetry.count('idle_connections_closed');
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      state.lastRead = Date.now();
      decoder.push(chunk, frames);
      if (frames.length === 0 && decoder.dropped === 0) return;
      socket.pause();
      state.delivering = true;
      // Time held under back-pressure is the receiver's, not the sender's idleness.
      socket.setTimeout(0);
      const work = deliver().finally(() => {
        state.delivering = false;
        state.lastRead = Date.now();
        if (socket.destroyed || state.stopped) return;
        socket.setTimeout(idleTimeout);
        socket.resume();
      });
      this.track(work);
    });
    socket.on('end', () => {
      state.ended = true;
      decoder.end(frames);
      this.track(deliver());
    });
    socket.on('error', (err) =>
      this.context.logger.debug({ err: err.message, peer: peer.address }, 'syslog connection error'),
    );
    socket.on('close', () => this.connections.delete(socket));
  }

  /**
   * Stops listening, reads what the connected senders already sent, lets batches in hand reach
   * the pipeline, then closes the connections.
   */
  async shutdown(deadline: number): Promise<void> {
    this.closing = true;
    this.tls?.stop();
    const closed = this.tcpServer
      ? new Promise<void>((resolve) => this.tcpServer!.close(() => resolve()))
      : Promise.resolve();
    this.udpSocket?.close();
    this.stopReportingUdpDrops?.();
    await this.readWhatWasSent(deadline);
    await waitUntilDeadline(Promise.all(this.inFlight), deadline);
    for (const s of this.connections.keys()) s.destroy();
    await closed;
  }

  /**
   * TCP syslog has no acknowledgement but TCP's own: what the kernel took from a sender, the
   * sender counts as delivered. So each connection is read on until it ends or has been quiet for
   * QUIET_MS (what was in its buffer has been read), for at most MAX_READ_MS and a quarter of the
   * time to the deadline, which the pipeline needs for its flush.
   */
  private async readWhatWasSent(deadline: number): Promise<void> {
    const started = Date.now();
    const until = started + Math.min(MAX_READ_MS, (deadline - started) / 4);
    for (const state of this.connections.values()) state.lastRead = Math.max(state.lastRead, started);
    for (;;) {
      const now = Date.now();
      let reading = 0;
      for (const [socket, state] of this.connections) {
        if (state.stopped) continue;
        const done = state.ended || socket.destroyed || (!state.delivering && now - state.lastRead >= QUIET_MS);
        if (done || now >= until) {
          state.stopped = true;
          socket.pause();
        } else reading++;
      }
      if (reading === 0) return;
      await sleep(QUIET_MS / 4);
    }
  }
}

/** Nothing but spaces, tabs, CR, LF or NUL in the first `end` bytes. */
function isBlank(datagram: Buffer, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const b = datagram[i]!;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a && b !== 0x00) return false;
  }
  return true;
}
