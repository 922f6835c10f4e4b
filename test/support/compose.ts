import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export class ComposeInterpolationError extends Error {
  override name = 'ComposeInterpolationError';
}

export interface Interpolation {
  value: string;
  /** Variables used with no default while unset: compose warns and substitutes the empty string. */
  unset: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Index of the `}` closing the `${` whose body starts at `start`; defaults may hold `${...}` themselves. */
function closingBrace(text: string, start: number): number {
  let depth = 1;
  for (let index = start; index < text.length; index += 1) {
    if (text.startsWith('${', index)) {
      depth += 1;
      index += 1;
    } else if (text[index] === '}' && --depth === 0) {
      return index;
    }
  }
  throw new ComposeInterpolationError(`Unclosed "\${" in ${JSON.stringify(text)}`);
}

/**
 * A value interpolated as the compose specification says (https://compose-spec.io, "Interpolation"): `$$` is a
 * `$`; `$VAR` and `${VAR}` the variable or, unset, the empty string (with a warning); `${VAR:-default}` the default
 * when unset or empty, `${VAR-default}` only when unset; `${VAR:?message}` / `${VAR?message}` fail; `${VAR:+alt}` /
 * `${VAR+alt}` the alternative when set (and non-empty). Defaults are interpolated too.
 * @throws {ComposeInterpolationError} for a required variable that is missing, or malformed syntax
 */
export function interpolate(text: string, env: Record<string, string | undefined>): Interpolation {
  const unset: string[] = [];
  let value = '';
  let index = 0;
  while (index < text.length) {
    const dollar = text.indexOf('$', index);
    if (dollar === -1) {
      value += text.slice(index);
      break;
    }
    value += text.slice(index, dollar);
    const next = text[dollar + 1];
    if (next === '$') {
      value += '$';
      index = dollar + 2;
      continue;
    }
    if (next !== '{') {
      const name = NAME.exec(text.slice(dollar + 1))?.[0];
      if (!name) throw new ComposeInterpolationError(`Invalid "$" in ${JSON.stringify(text)}: write "$$" for a literal one`);
      if (env[name] === undefined) unset.push(name);
      value += env[name] ?? '';
      index = dollar + 1 + name.length;
      continue;
    }
    const end = closingBrace(text, dollar + 2);
    const body = text.slice(dollar + 2, end);
    const name = NAME.exec(body)?.[0];
    if (!name) throw new ComposeInterpolationError(`Invalid variable name in "\${${body}}"`);
    const operator = /^(:-|-|:\?|\?|:\+|\+)?/.exec(body.slice(name.length))![0];
    const argument = body.slice(name.length + operator.length);
    if (!operator && argument) throw new ComposeInterpolationError(`Invalid substitution "\${${body}}"`);
    const current = env[name];
    const present = operator.startsWith(':') ? current !== undefined && current !== '' : current !== undefined;
    const nested = () => {
      const inner = interpolate(argument, env);
      unset.push(...inner.unset);
      return inner.value;
    };
    switch (operator) {
      case ':-':
      case '-':
        value += present ? current : nested();
        break;
      case ':?':
      case '?':
        if (!present) throw new ComposeInterpolationError(`Required variable ${name} is missing a value: ${nested()}`);
        value += current;
        break;
      case ':+':
      case '+':
        value += present ? nested() : '';
        break;
      default:
        if (current === undefined) unset.push(name);
        value += current ?? '';
    }
    index = end + 1;
  }
  return { value, unset };
}

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: Record<string, { condition: string }> | string[];
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] | string };
  deploy?: { replicas?: number };
  stop_grace_period?: string;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export interface LoadedCompose {
  file: ComposeFile;
  /** Every variable used with no default and unset, as compose would warn about it. */
  unset: string[];
}

/** Every string in a parsed YAML document, interpolated in place. */
function interpolateAll(node: unknown, env: Record<string, string | undefined>, unset: string[]): unknown {
  if (typeof node === 'string') {
    const result = interpolate(node, env);
    unset.push(...result.unset);
    return result.value;
  }
  if (Array.isArray(node)) return node.map((item) => interpolateAll(item, env, unset));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, interpolateAll(value, env, unset)]));
  }
  return node;
}

/** A compose file as compose reads it: YAML 1.1 merge keys (`<<`) applied, then every value interpolated from `env`. */
export function loadCompose(file: string, env: Record<string, string | undefined>): LoadedCompose {
  const parsed: unknown = parse(readFileSync(file, 'utf8'), { merge: true });
  const unset: string[] = [];
  return { file: interpolateAll(parsed, env, unset) as ComposeFile, unset: [...new Set(unset)] };
}

/**
 * A service's environment as its container sees it: map or `KEY=VALUE` list; a bare key takes the host's value and
 * is left out when the host has none; numbers and booleans become their text.
 */
export function serviceEnvironment(service: ComposeService, hostEnv: Record<string, string | undefined>): Record<string, string> {
  const entries: [string, string | number | boolean | null][] = Array.isArray(service.environment)
    ? service.environment.map((entry) => {
        const equals = entry.indexOf('=');
        return equals === -1 ? [entry, null] : [entry.slice(0, equals), entry.slice(equals + 1)];
      })
    : Object.entries(service.environment ?? {});
  const environment: Record<string, string> = {};
  for (const [key, value] of entries) {
    const resolved = value === null ? hostEnv[key] : String(value);
    if (resolved !== undefined) environment[key] = resolved;
  }
  return environment;
}
