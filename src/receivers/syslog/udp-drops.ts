import { readFile, readdir, readlink } from 'node:fs/promises';

/** Linux's tables of UDP sockets; one line per socket, the last column the datagrams it dropped. */
const UDP_TABLES = ['/proc/net/udp', '/proc/net/udp6'];

/** Inodes of this process's sockets, to tell its socket from another process's on the same port. */
async function ownSocketInodes(): Promise<Set<string> | undefined> {
  let fds: string[];
  try {
    fds = await readdir('/proc/self/fd');
  } catch {
    return undefined;
  }
  const inodes = new Set<string>();
  await Promise.all(
    fds.map(async (fd) => {
      const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m) inodes.add(m[1]!);
    }),
  );
  return inodes;
}

/**
 * Datagrams the kernel dropped on this process's UDP sockets bound to `port` (its receive buffer
 * was full), summed over /proc/net/udp and /proc/net/udp6; undefined where neither can be read
 * (not Linux), so no value is made up.
 */
export async function udpReceiveDrops(port: number): Promise<number | undefined> {
  const portHex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = await ownSocketInodes();
  let found = false;
  let drops = 0;
  for (const table of UDP_TABLES) {
    let text: string;
    try {
      text = await readFile(table, 'utf8');
    } catch {
      continue;
    }
    found = true;
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
      if (cols.length < 13 || !cols[1]!.endsWith(portHex)) continue;
      if (inodes && !inodes.has(cols[9]!)) continue;
      drops += Number(cols[12]);
    }
  }
  return found ? drops : undefined;
}
