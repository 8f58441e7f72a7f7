import { ConfigError, type Env, parseConfig } from '../../src/config/config.ts';

/** The problems parseConfig reports for `env`, none when it parses. */
export function problemsOf(env: Env): readonly string[] {
  try {
    parseConfig(env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}
