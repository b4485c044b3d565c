/**
 * `treerpc`: everything, for Node.js (child processes, worker threads, streams, Electron main).
 * Browsers and renderers import `treerpc/web`, which has no Node imports.
 */
export * from './web.js'
export { spawnChild, spawnWorker } from './spawn.js'
export type { ChildHandle, ExitInfo, Handle, HandleOptions, SpawnChildOptions, SpawnWorkerOptions, WorkerHandle } from './spawn.js'
export { connectParent } from './connect-parent.js'
export type { ConnectParentOptions } from './connect-parent.js'
export { IpcTransport, childProcessTransport, parentProcessTransport } from './transports/ipc.js'
export type { IpcChannel, IpcTransportOptions } from './transports/ipc.js'
export { WorkerTransport, NodePortTransport } from './transports/worker.js'
export type { PortTransportOptions } from './transports/worker.js'
export { StreamTransport } from './transports/stream.js'
export type { StreamTransportOptions } from './transports/stream.js'
export { MessagePortMainTransport, IpcMainTransport } from './transports/electron.js'
export type { IpcMainEventLike, IpcMainLike, IpcMainTransportOptions, MessagePortMainLike, WebContentsLike } from './transports/electron.js'
export { createPool, Pool } from './pool.js'
export type { PoolCallOptions, PoolMember, PoolOptions, PoolStats } from './pool.js'
