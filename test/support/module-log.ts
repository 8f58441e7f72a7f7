import { register } from 'node:module';

/*
 * Preloaded (`node --import tsx --import <this file>`) into a proxy a test
 * starts: every module the process resolves is written to stderr as
 * `module: <url>`, so a test can say what a configuration loads. Registered
 * after tsx, its hook sees the URL tsx resolved.
 */
const hook = `export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  process.stderr.write('module: ' + resolved.url + '\\n');
  return resolved;
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
