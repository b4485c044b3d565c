/**
 * `treerpc/web`: the platform-neutral part of treerpc, for browsers, web workers and Electron
 * renderers. It imports nothing from Node.
 */
export { createPeer, Peer, LIFECYCLE_EVENTS } from './peer.js'
export type { CallOptions, PeerState, PeerStats } from './peer.js'
export type { PeerOptions } from './options.js'
export { Call } from './transactions.js'
export type { CallState } from './transactions.js'
export { callContext } from './context.js'
export type { CallContext } from './context.js'
export {
  BusyError,
  CancelledError,
  ChannelClosedError,
  ErrorCode,
  MethodNotFoundError,
  RemoteError,
  RpcError,
  TimeoutError,
} from './errors.js'
export type { CloseInfo } from './errors.js'
export type { BlockingChannel, Transport, TransportCapabilities, Transferable } from './transport.js'
export type {
  AnyRemote,
  AnyRemoteSync,
  BuiltIn,
  EmitArgs,
  EmitName,
  EventListener,
  LifecycleEvents,
  ListenArgs,
  ListenName,
  NonBlockingPeer,
  PathArgs,
  PathOf,
  PathParam,
  PathResult,
  PeerEvents,
  Remote,
  RemoteAt,
  RemoteFunction,
  RemoteKeys,
  RemoteKind,
  RemoteObject,
  RemoteOf,
  RemotePath,
  RemoteSync,
  RemoteSyncFunction,
  RemoteSyncObject,
  RemoteSyncOf,
  UnreachableMembers,
  UnreachableName,
} from './types.js'
export { transfer } from './transfer.js'
export { ref, release } from './refs.js'
export type { Ref, Returned } from './types.js'
export { byName, ByName } from './by-name.js'
export type { IncomingRequest, Meta, OutgoingCall, PeerHooks } from './hooks.js'
export { isValidPath } from './namespace.js'
export type { ArgsValidator, ExposeOptions, HandleOptions } from './namespace.js'
export type { ParamsIssue, ParamsIssues, ParamsOf, ParamsSchema, StandardSchemaV1 } from './schema.js'
export { WireCode, Method as ProtocolMethod } from './protocol.js'
export type { Message, Request, Notification, Response, ErrorObject } from './protocol.js'
export { createMemoryPair, MemoryTransport } from './transports/memory.js'
export { MessagePortTransport } from './transports/message-port.js'
export type { MessageEventLike, MessagePortTransportOptions, StandardMessagePort } from './transports/message-port.js'
export { RendererBridgeTransport } from './transports/electron.js'
export type { RendererBridge } from './transports/electron.js'
