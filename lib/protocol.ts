/**
 * The wire protocol: JSON-RPC 2.0 message objects. See docs/PROTOCOL.md.
 *
 * - `method` is the dot path of the handler (`math.vector.norm`).
 * - `params` is the argument array; a by-name object from a foreign peer is passed as one argument.
 * - `rpc.`-prefixed methods belong to the protocol itself and are never dispatched to handlers.
 */

export type Id = number | string

export interface Request {
  jsonrpc: '2.0'
  id: Id
  method: string
  params?: unknown[] | Record<string, unknown>
}

export interface Notification {
  jsonrpc: '2.0'
  method: string
  params?: unknown[] | Record<string, unknown>
}

export interface SuccessResponse {
  jsonrpc: '2.0'
  id: Id
  result: unknown
}

export interface ErrorObject {
  /** A JSON-RPC error code; see {@link WireCode}. */
  code: number
  message: string
  /** For handler errors: the serialized error (serialize-error), with `name`, `stack`, `code`, `cause`... */
  data?: unknown
}

export interface ErrorResponse {
  jsonrpc: '2.0'
  /** null when the request's id could not be read. */
  id: Id | null
  error: ErrorObject
}

export type Response = SuccessResponse | ErrorResponse
export type Message = Request | Notification | Response

/** JSON-RPC error codes on the wire. -32768..-32000 are reserved by JSON-RPC; -32099..-32000 are ours. */
export const WireCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** A handler threw: `data` is the serialized error. */
  HandlerError: -32000,
  /** The receiver's handler pool and queue are full. */
  Busy: -32001,
  /** The handler's result could not be sent back. */
  Unsendable: -32002,
  /**
   * The call was lost with the side that took it (a broker member that died mid-call): it may or may
   * not have run. Revived as ChannelClosedError.
   */
  ChannelClosed: -32003,
  /** LSP's RequestCancelled, sent only to peers that cancel with `$/cancelRequest`. */
  RequestCancelled: -32800,
} as const

/** Protocol methods. Both sides send `rpc.hello` on start and answer a first hello with an `ack`. */
export const Method = {
  Hello: 'rpc.hello',
  Cancel: 'rpc.cancel',
  Event: 'rpc.event',
  Close: 'rpc.close',
  /** Sent by a channel before it lets go, to learn when its writes are out; carries nothing, ignored. */
  Flush: 'rpc.flush',
  /**
   * The heartbeat's request, with a string id (`ping:<n>`) never used by a call: answered `true` by
   * every treerpc peer (a plain JSON-RPC peer's -32601 serves as well); any reply is a sign of life.
   */
  Ping: 'rpc.ping',
  /** vscode-jsonrpc's (LSP's) cancel notification, accepted and sent to foreign peers. */
  ForeignCancel: '$/cancelRequest',
} as const

export const PROTOCOL_VERSION = 1

export interface HelloParams {
  /** Protocol version of the sender. */
  v: number
  /** Random id of the sending peer instance. */
  peer: string
  /** True when this hello answers the other side's hello. */
  ack: boolean
  /**
   * True when the sender knows the channel structured-clones (a Worker, `advanced` IPC). A forked
   * child cannot tell how its IPC channel serializes; its parent can, and says so here.
   */
  clone?: boolean
  /** True when the sender reads JSON-RPC batches (arrays): the other side may then batch what it sends. */
  batch?: boolean
}

/** True for anything shaped like a JSON-RPC 2.0 message: the only traffic treerpc reads. */
export function isJsonRpc(value: unknown): value is { jsonrpc: '2.0'; [key: string]: unknown } {
  return typeof value === 'object' && value !== null && (value as { jsonrpc?: unknown }).jsonrpc === '2.0'
}

export function isId(value: unknown): value is Id {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
}
