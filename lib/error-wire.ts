import { serializeError } from 'serialize-error'
import {
  BusyError,
  ErrorCode,
  MethodNotFoundError,
  RemoteError,
  RpcError,
} from './errors.js'
import { type ErrorObject, WireCode } from './protocol.js'

/** How deep serialized errors (custom fields, cause chains) may go, both ways. */
const MAX_DEPTH = 8
/** Longest cause chain rebuilt on the receiving side. */
const MAX_CAUSES = 8

/**
 * Turns whatever a handler threw into a JSON-RPC error object. Never throws: strings, undefined,
 * plain objects, circular structures and BigInts all become a serialized error.
 */
export function toErrorObject(thrown: unknown): ErrorObject {
  try {
    const data = serializeError(thrown, { maxDepth: MAX_DEPTH }) as Record<string, unknown>
    if (thrown !== null && typeof thrown === 'object' && !(thrown instanceof Error) && typeof data.message !== 'string') {
      data.message = 'Handler threw a non-Error object'
      data.name = 'NonError'
    }
    const message = typeof data.message === 'string' ? data.message : 'Handler error'
    return { code: WireCode.HandlerError, message, data }
  } catch {
    return { code: WireCode.HandlerError, message: 'Handler threw a value that could not be serialized' }
  }
}

/** Own keys that must never be copied onto a revived error (B7). */
const UNSAFE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype', 'toJSON', 'toString', 'valueOf', 'then'])
/** Keys the reviver sets itself. */
const OWN_KEYS: ReadonlySet<string> = new Set(['name', 'message', 'stack', 'code', 'cause'])

/** Rebuilds the error a peer reported. Always returns an RpcError; never throws. */
export function fromErrorObject(error: ErrorObject, path: string): RpcError {
  const message = typeof error.message === 'string' ? error.message : 'Remote error'
  switch (error.code) {
    case WireCode.MethodNotFound:
      return new MethodNotFoundError(message, path)
    case WireCode.Busy:
      return new BusyError(message)
    case WireCode.HandlerError:
      if (isRecord(error.data)) return revive(error.data, 0)
      break
  }
  const remote = new RemoteError(message, wireCodeToErrorCode(error.code))
  remote.data = error.data
  return remote
}

function wireCodeToErrorCode(code: unknown): string {
  switch (code) {
    case WireCode.InvalidRequest:
      return ErrorCode.InvalidRequest
    case WireCode.InvalidParams:
      return ErrorCode.InvalidParams
    case WireCode.InternalError:
    case WireCode.ParseError:
      return ErrorCode.Internal
    case WireCode.Unsendable:
      return ErrorCode.Unsendable
    case WireCode.RequestCancelled:
      return ErrorCode.Cancelled
    default:
      return ErrorCode.Remote
  }
}

function revive(data: Record<string, unknown>, depth: number): RemoteError {
  const error = new RemoteError(typeof data.message === 'string' ? data.message : 'Remote error')
  const name = typeof data.name === 'string' ? data.name : 'Error'
  error.remoteName = name
  define(error, 'name', name)
  if (typeof data.stack === 'string') define(error, 'stack', data.stack)
  if (typeof data.code === 'string' || typeof data.code === 'number') define(error, 'code', data.code)
  if (data.cause !== undefined) {
    const cause = data.cause
    define(error, 'cause', isRecord(cause) && depth < MAX_CAUSES ? revive(cause, depth + 1) : cause)
  }
  for (const key of Object.keys(data)) {
    if (OWN_KEYS.has(key) || UNSAFE_KEYS.has(key)) continue
    define(error, key, data[key])
  }
  return error
}

/** defineProperty, never assignment: a wire-supplied key can't reach a setter or the prototype. */
function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: !OWN_KEYS.has(key) || key === 'code' })
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
