import { setImmediate } from 'node:timers/promises';

/**
 * How many PNG chunks or JPEG segments a walker handles in one event-loop turn before it lets other callbacks
 * (requests, timers, I/O) run. A window of empty PNG chunks holds 5,461 of them. Measured on the IDAT bomb:
 * 250 chunks take ~0.2 ms once the JIT is warm, but the first walk of a process runs in the interpreter, and
 * 1,000 per turn let a turn reach 30 ms; with 250 the longest is ~6 ms. Giving way costs microseconds, so the
 * 400 turns of a refused bomb add little to its 60-70 ms of CPU.
 */
export const STEPS_PER_TURN = 250;

/** Resolves in the event loop's next check phase, after the I/O and timers that are due. */
export function nextTurn(): Promise<void> {
  return setImmediate();
}
