import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI, run the way users run it. */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd: string = PROJECT_ROOT): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `otelhouse run` and resolves once it logs that it is running. */
export function startDaemonProcess(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; logs: () => string; exited: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'run', '--config', configFile], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    const onData = (d: Buffer) => {
      logs += d.toString();
      if (logs.includes('otelhouse is running')) {
        child.stderr.off('data', onData);
        child.stderr.on('data', (more: Buffer) => (logs += more.toString()));
        resolve({ child, logs: () => logs, exited });
      }
    };
    child.stderr.on('data', onData);
    child.stdout.on('data', () => undefined);
    void exited.then((code) => reject(new Error(`daemon exited with ${code} before it was running:\n${logs}`)));
  });
}
