/** One problem found in a config file: the dotted path of the key and the reason. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** A config that cannot be used. Carries every problem found, not only the first. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], source?: string) {
    const head = source ? `invalid configuration in ${source}` : 'invalid configuration';
    super(`${head}:\n${issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
