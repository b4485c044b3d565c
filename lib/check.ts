import { show } from './describe.js'
import { ErrorCode, RpcError } from './errors.js'

/**
 * Checks of options and arguments at the door of every public function: a wrong value fails at
 * once with RpcError `RPC_INVALID_ARGUMENT` naming it, what was expected and what was received
 * (`options.closeTimeout must be a non-negative number of ms, got a string "x"`).
 */

/** The error for `name` (`options.timeout`, `args`...), which should be `expected` but is `value`. */
export function invalidArgument(name: string, expected: string, value: unknown): RpcError {
  return new RpcError(`${name} must be ${expected}, got ${show(value)}`, ErrorCode.InvalidArgument)
}

/** An options bag: undefined, or an object that is not an array. Returns it, or an empty object. */
export function checkOptions<T extends object>(name: string, value: T | undefined): T {
  if (value === undefined) return {} as T
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument(name, 'an object', value)
  return value
}

/** A number of milliseconds (or a count) that is 0 or more; Infinity only when `infinite` says so. */
export function checkNonNegative(name: string, value: unknown, infinite = false): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (!infinite && value === Infinity)) {
    throw invalidArgument(name, `a non-negative number${infinite ? ' (or Infinity)' : ''}`, value)
  }
}

/** An integer of 1 or more; Infinity only when `infinite` says so. */
export function checkPositiveInteger(name: string, value: unknown, infinite = false): void {
  const ok = typeof value === 'number' && value >= 1 && (Number.isInteger(value) || (infinite && value === Infinity))
  if (!ok) throw invalidArgument(name, `a positive integer${infinite ? ' (or Infinity)' : ''}`, value)
}

export function checkBoolean(name: string, value: unknown): void {
  if (typeof value !== 'boolean') throw invalidArgument(name, 'true or false', value)
}

export function checkFunction(name: string, value: unknown): void {
  if (typeof value !== 'function') throw invalidArgument(name, 'a function', value)
}

export function checkString(name: string, value: unknown): void {
  if (typeof value !== 'string') throw invalidArgument(name, 'a string', value)
}

export function checkOneOf(name: string, value: unknown, allowed: readonly string[]): void {
  if (typeof value !== 'string' || !allowed.includes(value)) throw invalidArgument(name, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value)
}

/** Runs `check(name, value)` unless the value is undefined (the option was left out). */
export function optional<V>(check: (name: string, value: unknown, ...rest: any[]) => void, name: string, value: V, ...rest: unknown[]): void {
  if (value !== undefined) check(name, value, ...rest)
}
