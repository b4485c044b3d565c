import { serializeError } from 'serialize-error'
import { type Mode, Encoder, UNSAFE_FIELDS } from './codec.js'
import { show } from './describe.js'
import { BusyError, ChannelClosedError, ErrorCode, MethodNotFoundError, RemoteError, type RpcError } from './errors.js'
import { type ErrorObject, WireCode } from './protocol.js'

/** How deep serialized errors (custom fields, cause chains) may go for plain JSON-RPC peers. */
const MAX_DEPTH = 8
/** Longest cause chain rebuilt on the receiving side from a plain JSON-RPC peer's error data. */
const MAX_CAUSES = 8

/** A thrown value as a JSON-RPC error object; `tagged` when its data holds tags (see codec.ts). */
export interface WireError {
  error: ErrorObject
  tagged: boolean
}

/**
 * Turns whatever a handler threw into a JSON-RPC error object. Never throws. To a treerpc peer the
 * data carries the error's fields through the value encoding (a Date field stays a Date, a Map a
 * Map), a field that cannot be sent is left out alone; to a plain JSON-RPC peer it is
 * serialize-error's JSON form, with fields JSON cannot carry left out.
 */
export function toErrorObject(thrown: unknown, mode: Mode, minimal = false): WireError {
  try {
    if (minimal) return { error: minimalError(thrown), tagged: false }
    const encoder = new Encoder(mode)
    let data: Record<string, unknown> = {}
    if (typeof thrown === 'object' && thrown !== null) {
      if (mode.tags) {
        encoder.root(thrown, data)
        encoder.errorFields(thrown, data, 0)
      } else {
        const serialized = serializeError(thrown, { maxDepth: MAX_DEPTH }) as Record<string, unknown>
        if (typeof serialized === 'object' && serialized !== null) encoder.errorFields(serialized, data, 0)
      }
      if (typeof data.message !== 'string' || (!(thrown instanceof Error) && data.message === '')) {
        data.message = 'Handler threw a non-Error object'
        data.name ??= 'NonError'
      }
    } else {
      data = { name: 'NonError', message: typeof thrown === 'string' ? thrown : `Handler threw ${show(thrown)}` }
    }
    return { error: { code: WireCode.HandlerError, message: data.message as string, data }, tagged: encoder.tagged }
  } catch {
    return { error: { code: WireCode.HandlerError, message: 'Handler threw a value that could not be serialized' }, tagged: false }
  }
}

/** Name, message and a string or number code only: no stack, cause or custom fields (`errorDetail: 'minimal'`). */
function minimalError(thrown: unknown): ErrorObject {
  const { name, message, code } = (typeof thrown === 'object' && thrown !== null ? thrown : {}) as { name?: unknown; message?: unknown; code?: unknown }
  const data: Record<string, unknown> = {
    name: typeof name === 'string' ? name : 'Error',
    message: typeof message === 'string' ? message : typeof thrown === 'string' ? thrown : `Handler threw ${show(thrown)}`,
  }
  if (typeof code === 'string' || typeof code === 'number') data.code = code
  return { code: WireCode.HandlerError, message: data.message as string, data }
}

/** Keys the reviver sets itself. */
const OWN_KEYS: ReadonlySet<string> = new Set(['name', 'message', 'stack', 'code', 'cause'])

/** Rebuilds the error a peer reported (its data already decoded). Always returns an RpcError; never throws. */
export function fromErrorObject(error: ErrorObject, path: string): RpcError {
  const message = typeof error.message === 'string' ? error.message : 'Remote error'
  switch (error.code) {
    case WireCode.MethodNotFound:
      return new MethodNotFoundError(message, path)
    case WireCode.Busy:
      return new BusyError(message)
    case WireCode.ChannelClosed:
      return new ChannelClosedError(message)
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
  if (data.cause !== undefined || Object.hasOwn(data, 'cause')) {
    const cause = data.cause
    // A treerpc peer's cause arrives decoded (an Error); a plain peer's is serialize-error's record.
    define(error, 'cause', isRecord(cause) && !(cause instanceof Error) && depth < MAX_CAUSES ? revive(cause, depth + 1) : cause)
  }
  for (const key of Object.keys(data)) {
    if (OWN_KEYS.has(key) || UNSAFE_FIELDS.has(key)) continue
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
