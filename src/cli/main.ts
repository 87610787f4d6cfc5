#!/usr/bin/env -S node --max-semi-space-size=64
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/loader.js';
import { ConfigError } from '../config/errors.js';
import { errorMessage } from '../pipeline/errors.js';
import { loadConfig, startDaemon } from '../daemon.js';
import { createLogger } from '../telemetry/logger.js';
import { listTemplates, mineFile } from './template-commands.js';
import { WorkerSupervisor } from '../cluster/primary.js';
import { runWorker, workerIdentity } from '../cluster/worker.js';
import { parseQueryArgs, QUERY_USAGE, runQuery, UsageError } from './query-command.js';

/*
 * About --max-semi-space-size=64 in the first line: records live from their request until their
 * batch is exported; with V8's default 16 MiB young generation most survive two scavenges and are
 * promoted, and old-generation collection took a fifth of the CPU. A 64 MiB one lets them die
 * young: bench:syslog +30 %, bench:e2e +15 %, for ~140 MiB more RSS under full load. The flag must
 * be given at start-up, so `npm start`, the benchmarks and the `otelhouse` command run this file
 * directly.
 */

const USAGE = `otelhouse — an OpenTelemetry log collector that stores logs in ClickHouse

Usage:
  otelhouse [run] --config FILE     run the collector (default command)
  otelhouse validate --config FILE  check a config file without starting anything
  otelhouse templates --config FILE [--service S] [--top N]
                                    list the stored templates with their counts
  otelhouse mine FILE [--top N]     mine a plain log file offline and print its templates
  otelhouse query logs|templates [filters] [--output table|json] [--follow]
                                    search the stored logs and templates (query --help)
  otelhouse --help | --version

Options:
  -c, --config FILE   config file (default: config/otelhouse.yaml)

Exit codes: 0 success, 1 runtime failure, 2 invalid configuration or usage.
`;

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function run(configFile: string): Promise<number> {
  const config = loadConfig({ file: configFile });
  const logger = createLogger(config.telemetry.logs.level);
  if (cluster.isWorker) {
    const code = await runWorker(config, logger.child({ worker: workerIdentity().index }));
    logger.flush();
    return code;
  }
  if (config.workers > 1) return runWorkers(config, logger);
  const daemon = await startDaemon(config, logger);
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting without finishing the drain');
        resolve(EXIT_FAILURE);
        return;
      }
      logger.info({ signal }, 'draining: no new data is accepted; flushing what was accepted');
      daemon.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err: errorMessage(err) }, 'shutdown failed');
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }).then((code) => {
    logger.flush();
    return code;
  });
}

/** service.workers > 1: this process supervises the pipeline workers and serves their telemetry. */
async function runWorkers(config: ServiceConfig, logger: Logger): Promise<number> {
  const supervisor = new WorkerSupervisor(config, logger);
  await supervisor.start();
  const code = await new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        logger.warn({ signal }, 'second signal: the workers exit without finishing the drain');
        supervisor.exitNow();
        return;
      }
      logger.info({ signal }, 'draining the workers: no new data is accepted; flushing what was accepted');
      supervisor.stop().then(resolve, (err: unknown) => {
        logger.error({ err: errorMessage(err) }, 'shutdown failed');
        resolve(EXIT_FAILURE);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  logger.info('otelhouse stopped');
  logger.flush();
  return code;
}

/** `otelhouse query …` has options of its own. */
async function query(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(QUERY_USAGE);
    return 0;
  }
  try {
    const options = parseQueryArgs(argv);
    await runQuery(options, () => loadConfig({ file: options.config }), process.stdout);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      process.stderr.write(`otelhouse: ${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`otelhouse: ${errorMessage(err)}\n`);
    return EXIT_FAILURE;
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'query') return query(argv.slice(1));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c', default: 'config/otelhouse.yaml' },
        service: { type: 'string' },
        top: { type: 'string', default: '50' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    process.stderr.write(`otelhouse: ${errorMessage(err)}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`otelhouse ${version()}\n`);
    return 0;
  }
  const command = positionals[0] ?? 'run';
  const top = Number(values.top);
  if (!Number.isInteger(top) || top <= 0) {
    process.stderr.write(`otelhouse: --top: expected a positive integer, got "${values.top}"\n`);
    return EXIT_USAGE;
  }
  if (command === 'mine' && positionals.length !== 2) {
    process.stderr.write(`otelhouse: mine needs one FILE\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if ((command !== 'mine' && positionals.length > 1) || !['run', 'validate', 'templates', 'mine'].includes(command)) {
    process.stderr.write(`otelhouse: unknown command "${positionals.join(' ')}"\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  try {
    if (command === 'validate') {
      const config = loadConfig({ file: values.config });
      process.stdout.write(
        `${values.config}: valid (${config.pipelines.length} ` +
          `pipeline${config.pipelines.length === 1 ? '' : 's'}: ${config.pipelines.map((p) => p.id).join(', ')}` +
          `${config.workers > 1 ? `; ${config.workers} worker processes` : ''})\n`,
      );
      return 0;
    }
    if (command === 'mine') {
      await mineFile(positionals[1]!, top, process.stdout);
      return 0;
    }
    if (command === 'templates') {
      await listTemplates(loadConfig({ file: values.config }), values.service, top, process.stdout);
      return 0;
    }
    return await run(values.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`otelhouse: ${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`otelhouse: ${errorMessage(err)}\n`);
    return EXIT_FAILURE;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`otelhouse: ${errorMessage(err)}\n`);
    process.exit(EXIT_FAILURE);
  },
);
