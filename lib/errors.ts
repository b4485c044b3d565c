/**
 * Every error treerpc raises is an {@link RpcError} with a stable string `code` from
 * {@link ErrorCode}. Compare codes, not messages: messages may change, codes do not.
 */
export const ErrorCode = {
  /** The call did not settle within its timeout. */
  Timeout: 'RPC_TIMEOUT',
  /** The caller cancelled the call (`cancel()` or its `AbortSignal`). */
  Cancelled: 'RPC_CANCELLED',
  /** No handler (and no fallback) exists for the path on the other side. */
  MethodNotFound: 'RPC_METHOD_NOT_FOUND',
  /** A bounded queue is full: the remote handler pool, or this side's pending calls. */
  Busy: 'RPC_BUSY',
  /** The channel closed (or was never open) before the call settled. */
  ChannelClosed: 'RPC_CHANNEL_CLOSED',
  /** The remote handler threw; the remote error's own `code`, if any, replaces this one. */
  Remote: 'RPC_REMOTE_ERROR',
  /** A value could not be sent over the channel (a function, a symbol, a non-transferable...). */
  Unsendable: 'RPC_UNSENDABLE',
  /** The remote side rejected the request as malformed (JSON-RPC -32600). */
  InvalidRequest: 'RPC_INVALID_REQUEST',
  /** The remote side rejected the arguments (JSON-RPC -32602). */
  InvalidParams: 'RPC_INVALID_PARAMS',
  /** A message exceeded the channel's `maxMessageSize`. */
  MessageTooLarge: 'RPC_MESSAGE_TOO_LARGE',
  /** The remote side failed while handling the call, outside the handler (JSON-RPC -32603). */
  Internal: 'RPC_INTERNAL_ERROR',
  /** An argument to a treerpc API was invalid (a reserved event name, a bad path...). */
  InvalidArgument: 'RPC_INVALID_ARGUMENT',
  /** The operation is not possible on this channel (a blocking call on a child process, say). */
  Unsupported: 'RPC_UNSUPPORTED',
  /** The operation is not possible in the current state (a second `connectParent()`, say). */
  InvalidState: 'RPC_INVALID_STATE',
  /** A call through a stub (a function, `ref()` object or stream from the other side) that was released. */
  Released: 'RPC_RELEASED',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** Base class of every error treerpc raises. Constructible with no arguments. */
export class RpcError extends Error {
  /**
   * Stable, machine-readable code; see {@link ErrorCode}. treerpc's own codes are strings; a
   * {@link RemoteError} carries the remote error's own `code` as thrown, which may be a number.
   */
  code: string | number
  constructor(message = 'RPC error', code: string | number = ErrorCode.Internal, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** The remote handler threw. `name`, `message`, `stack`, `code`, `cause` and custom fields are the remote error's. */
export class RemoteError extends RpcError {
  /** Name of the error class on the remote side (also in `name`). */
  remoteName = 'Error'
  /** JSON-RPC `error.data` when the peer sent something other than a serialized error. */
  data?: unknown
  constructor(message = 'Remote error', code: string | number = ErrorCode.Remote) {
    super(message, code)
  }
}

export class TimeoutError extends RpcError {
  declare code: typeof ErrorCode.Timeout
  /** Path of the call that timed out. */
  path = ''
  /** The timeout that elapsed, in milliseconds. */
  timeout = 0
  constructor(message = 'Call timed out', path = '', timeout = 0) {
    super(message, ErrorCode.Timeout)
    this.path = path
    this.timeout = timeout
  }
}

export class CancelledError extends RpcError {
  declare code: typeof ErrorCode.Cancelled
  constructor(message = 'Call cancelled', options?: { cause?: unknown }) {
    super(message, ErrorCode.Cancelled, options)
  }
}

export class MethodNotFoundError extends RpcError {
  declare code: typeof ErrorCode.MethodNotFound
  /** The path nobody handles. */
  path = ''
  constructor(message = 'Method not found', path = '') {
    super(message, ErrorCode.MethodNotFound)
    this.path = path
  }
}

export class BusyError extends RpcError {
  declare code: typeof ErrorCode.Busy
  constructor(message = 'Busy') {
    super(message, ErrorCode.Busy)
  }
}

/** How a channel ended; carried by {@link ChannelClosedError} and transports' close notifications. */
export interface CloseInfo {
  /** Human-readable reason ("peer closed the channel", "child process exited"...). */
  reason?: string
  /** Exit code of the process or worker at the other end, or null when it did not exit with one. */
  exitCode?: number | null
  /** Signal that ended the process at the other end, or null. */
  signal?: string | null
  /** True when this side closed the channel (`close()`), false or absent when the other side or the channel did. */
  local?: boolean
  /** The transport error that closed the channel, if any. */
  error?: unknown
}

export class ChannelClosedError extends RpcError {
  declare code: typeof ErrorCode.ChannelClosed
  /** Exit code of the peer's process or worker, when it exited with one. */
  exitCode: number | null = null
  /** Signal that ended the peer's process, when one did. */
  signal: string | null = null
  constructor(message = 'Channel closed', info: CloseInfo = {}) {
    super(describeClose(message, info), ErrorCode.ChannelClosed, info.error === undefined ? undefined : { cause: info.error })
    this.exitCode = info.exitCode ?? null
    this.signal = info.signal ?? null
  }
}

function describeClose(message: string, info: CloseInfo): string {
  let text = info.reason ? `${message}: ${info.reason}` : message
  if (info.exitCode !== undefined && info.exitCode !== null) text += ` (exit code ${info.exitCode})`
  if (info.signal) text += ` (signal ${info.signal})`
  return text
}

// Names live on the prototypes (not instances) so that they survive minifiers and serialize-error
// sees the class name; RemoteError instances get the remote name as an own property when revived.
for (const [ctor, name] of [
  [RpcError, 'RpcError'],
  [RemoteError, 'RemoteError'],
  [TimeoutError, 'TimeoutError'],
  [CancelledError, 'CancelledError'],
  [MethodNotFoundError, 'MethodNotFoundError'],
  [BusyError, 'BusyError'],
  [ChannelClosedError, 'ChannelClosedError'],
] as const) {
  Object.defineProperty(ctor.prototype, 'name', { value: name, writable: true, configurable: true })
}
