import { execFileSync } from 'node:child_process';
import { tempDir } from './daemon.js';

/** Mounts a real small filesystem at dir; returns why not when this process may not mount one. */
export function mountTmpfs(dir: string, size: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
}

export function unmount(dir: string): void {
  execFileSync('umount', [dir]);
}

/** Why a tmpfs cannot be mounted here, probed once, or undefined when it can: tests skip with the reason. */
export function tmpfsUnavailable(): string | undefined {
  const probe = tempDir('tmpfs-probe');
  const why = mountTmpfs(probe, '1m');
  if (!why) unmount(probe);
  return why;
}
