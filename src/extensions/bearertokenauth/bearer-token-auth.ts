import { readFile } from 'node:fs/promises';
import { FileChangeWatcher } from '../../internal/file-watch.js';
import type { HeaderReader, ServerAuthenticator } from '../../pipeline/auth.js';
import { TokenSet } from '../../internal/token-set.js';
import type { ComponentContext, Extension } from '../../pipeline/component.js';
import { errorMessage } from '../../pipeline/errors.js';
import { type BearerTokenAuthConfig } from './config.js';

/** How often a token file is checked for changes. */
const TOKEN_FILE_CHECK_MS = 1000;

/**
 * The tokens of a token file: one a line, surrounding blanks trimmed. Lines starting with `#` are
 * comments, so a file annotated for its operators does not make the annotation a valid token.
 */
function tokenLines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * Accepts requests whose header (default `Authorization`) is `<scheme> <token>` with a known token.
 * Tokens come from the config (${env:…}) or from a file re-read when it changes, so rotating a
 * Kubernetes Secret needs no restart. The scheme is matched without regard to case (RFC 9110).
 */
export class BearerTokenAuth implements Extension, ServerAuthenticator {
  private tokens: TokenSet;
  private readonly header: string;
  private readonly scheme: string;
  private watcher: FileChangeWatcher | undefined;

  constructor(
    private readonly config: BearerTokenAuthConfig,
    private readonly context: ComponentContext,
  ) {
    this.header = config.header.toLowerCase();
    this.scheme = config.scheme.toLowerCase();
    this.tokens = new TokenSet([...(config.token ? [config.token] : []), ...(config.tokens ?? [])]);
  }

  async start(): Promise<void> {
    const file = this.config.filename;
    if (!file) return;
    this.tokens = await this.readTokens(file);
    this.watcher = new FileChangeWatcher([file], TOKEN_FILE_CHECK_MS, () => void this.reload(file));
    await this.watcher.start();
  }

  private async readTokens(file: string): Promise<TokenSet> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read token file ${file}: ${errorMessage(err)}`);
    }
    const tokens = new TokenSet(tokenLines(text));
    if (tokens.size === 0)
      this.context.logger.warn({ filename: file }, 'the token file holds no token: every request is refused');
    return tokens;
  }

  /** A file that cannot be read mid-rotation keeps the tokens in use; the next change is picked up. */
  private async reload(file: string): Promise<void> {
    try {
      this.tokens = await this.readTokens(file);
      this.context.logger.info({ filename: file, tokens: this.tokens.size }, 'bearer tokens reloaded');
    } catch (err) {
      this.context.logger.error(
        { err: errorMessage(err) },
        'bearer token file could not be reloaded; keeping the previous tokens',
      );
    }
  }

  authenticate(header: HeaderReader): string | undefined {
    const value = header(this.header)?.trim();
    if (!value) return `missing ${this.config.header} header`;
    let token = value;
    if (this.scheme) {
      const space = value.indexOf(' ');
      if (space < 0 || value.slice(0, space).toLowerCase() !== this.scheme)
        return `${this.config.header} must be "${this.config.scheme} <token>"`;
      token = value.slice(space + 1).trim();
    }
    return this.tokens.has(token) ? undefined : 'invalid token';
  }

  async shutdown(): Promise<void> {
    this.watcher?.stop();
  }
}
