import { spawn } from 'node:child_process';
import path from 'node:path';
import { testChildEnv } from './test-run';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface ScriptResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of the repository's entry points (`scripts/reprocess.ts`, `apps/worker/src/main.ts`, ...) as its own
 * node process to the end, as an operator would, and collects what it printed. Killed when it outlives
 * `timeoutMs` (and marked, so the global teardown ends it if the test itself dies first).
 */
export async function runScript(script: string, args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<ScriptResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, ...testChildEnv() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (exitCode) => resolve(exitCode));
    });
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}
