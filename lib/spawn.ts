import { type ChildProcess, fork, type ForkOptions } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Worker, type WorkerOptions as NodeWorkerOptions } from 'node:worker_threads'
import { ErrorCode, RpcError } from './errors.js'
import type { PeerOptions } from './options.js'
import { createPeer, type Peer } from './peer.js'
import { IpcTransport, type IpcChannel } from './transports/ipc.js'
import { WorkerTransport } from './transports/worker.js'
import type { RemoteOf, RemoteSyncOf } from './types.js'

/** How a child process or worker ended. A worker has no signal. */
export interface ExitInfo {
  code: number | null
  signal: string | null
}

export interface HandleOptions extends PeerOptions {
  /** How long `close()` waits for the child or worker to exit before killing it, in ms. Default 5000. */
  closeTimeout?: number
  /**
   * How long the child or worker has to call `connectParent()`, in ms; past it `ready` rejects with
   * ChannelClosedError and it is killed. Default 30000; 0 waits as long as it takes.
   */
  connectTimeout?: number
}

/** Options of {@link spawnChild}: the peer's options plus `fork`'s. `timeout` is the call timeout, not fork's. */
export interface SpawnChildOptions extends HandleOptions, Omit<ForkOptions, 'timeout' | 'signal'> {
  /** Arguments for the child's `process.argv`. */
  args?: readonly string[]
}

/** Options of {@link spawnWorker}: the peer's options plus the Worker's. */
export interface SpawnWorkerOptions extends HandleOptions, Omit<NodeWorkerOptions, 'eval'> {}

/** A running child process or worker with a connected peer. */
export interface Handle<RemoteApi> {
  /** The other side's API: `await handle.remote.a.b(x)`. */
  readonly remote: RemoteOf<RemoteApi>
  /** Resolves once the handshake completes; rejects if it dies first. */
  readonly ready: Promise<void>
  /** The underlying peer: `on`, `emit`, `call`, `notify`, `expose`... */
  readonly peer: Peer<RemoteApi>
  /** Resolves once it is gone, whoever ended it; never rejects. */
  readonly exited: Promise<ExitInfo>
  /** Closes the channel (pending calls reject), asks it to exit, kills it after `closeTimeout`. Idempotent. */
  close(): Promise<ExitInfo>
  /** Ends it now (a worker is terminated) and resolves once it has exited. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>
}

export interface ChildHandle<RemoteApi> extends Handle<RemoteApi> {
  readonly process: ChildProcess
}

export interface WorkerHandle<RemoteApi> extends Handle<RemoteApi> {
  readonly worker: Worker
  /** Blocking calls into the worker: `handle.remoteSync.a.b(x)` returns the value (see `Peer.callSync`). */
  readonly remoteSync: RemoteSyncOf<RemoteApi>
}

/** Forks `modulePath` (which calls `connectParent`) and connects a peer to it. */
export function spawnChild<RemoteApi = unknown>(modulePath: string | URL, options: SpawnChildOptions = {}): ChildHandle<RemoteApi> {
  const { expose, timeout, concurrency, maxQueue, maxPending, handshake, closeTimeout, connectTimeout = 30_000, args, ...forkOptions } = options
  const child = fork(toPath(modulePath), args ?? [], forkOptions)
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    // fork itself failed (no process was started): there will be no 'exit'.
    child.once('error', () => {
      if (child.pid === undefined) resolve({ code: null, signal: null })
    })
  })
  const transport = new IpcTransport(child as unknown as IpcChannel, { serialization: forkOptions.serialization ?? 'json' })
  const peer = createPeer<RemoteApi>(transport, { expose, timeout, concurrency, maxQueue, maxPending, handshake, connectTimeout })
  const kill = (signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    return exited
  }
  return { process: child, ...handle(peer, exited, kill, closeTimeout) }
}

/** Starts `modulePath` (which calls `connectParent`) in a worker thread and connects a peer to it. */
export function spawnWorker<RemoteApi = unknown>(modulePath: string | URL, options: SpawnWorkerOptions = {}): WorkerHandle<RemoteApi> {
  const { expose, timeout, concurrency, maxQueue, maxPending, handshake, closeTimeout, connectTimeout = 30_000, ...workerOptions } = options
  const worker = new Worker(modulePath, workerOptions)
  let alive = true
  const exited = new Promise<ExitInfo>((resolve) => {
    worker.once('exit', (code) => {
      alive = false
      resolve({ code, signal: null })
    })
  })
  const peer = createPeer<RemoteApi>(new WorkerTransport(worker), { expose, timeout, concurrency, maxQueue, maxPending, handshake, connectTimeout })
  const kill = (): Promise<ExitInfo> => {
    if (alive) void worker.terminate()
    return exited
  }
  return { worker, remoteSync: peer.remoteSync, ...handle(peer, exited, kill, closeTimeout) }
}

function handle<RemoteApi>(
  peer: Peer<RemoteApi>,
  exited: Promise<ExitInfo>,
  kill: (signal?: NodeJS.Signals) => Promise<ExitInfo>,
  closeTimeout = 5000,
): Handle<RemoteApi> {
  let closing: Promise<ExitInfo> | undefined
  // A child that never connects (no connectParent(), stuck at start-up) is of no use: end it.
  peer.ready.catch(() => void kill())
  return {
    peer,
    remote: peer.remote,
    ready: peer.ready,
    exited,
    kill,
    close() {
      closing ??= (async () => {
        // The close notice asks the other side to let go of its channel, and so to exit by itself.
        peer.close()
        const timer = setTimeout(() => void kill(), closeTimeout)
        try {
          return await exited
        } finally {
          clearTimeout(timer)
        }
      })()
      return closing
    },
  }
}

function toPath(modulePath: string | URL): string {
  if (modulePath instanceof URL) return fileURLToPath(modulePath)
  if (typeof modulePath !== 'string') throw new RpcError('modulePath must be a path or a file URL', ErrorCode.InvalidArgument)
  return modulePath.startsWith('file:') ? fileURLToPath(modulePath) : modulePath
}
