import { type ChildProcess, fork, type ForkOptions } from 'node:child_process'
import { statSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { Worker, type WorkerOptions as NodeWorkerOptions } from 'node:worker_threads'
import { checkBoolean, checkNonNegative, checkOneOf, checkOptions, invalidArgument, optional } from './check.js'
import { MAX_TIMEOUT } from './deadlines.js'
import { clip, show } from './describe.js'
import { type CloseInfo, ErrorCode, RpcError } from './errors.js'
import { type PeerOptions, resolvePeerOptions } from './options.js'
import { createPeer, type Peer, type PeerState } from './peer.js'
import type { Transport } from './transport.js'
import { IpcTransport, type IpcChannel } from './transports/ipc.js'
import { WorkerTransport } from './transports/worker.js'
import type { NonBlockingPeer, PeerEvents, RemoteOf, RemoteSyncOf } from './types.js'

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

/**
 * A running child process or worker with a connected peer. `RemoteApi` is the type of what it
 * exposes; `Events`, optional, the events each way (see PeerEvents).
 */
export interface Handle<RemoteApi = unknown, Events extends PeerEvents = PeerEvents> {
  /** The other side's API: `await handle.remote.a.b(x)`. */
  readonly remote: RemoteOf<RemoteApi>
  /** Resolves once the handshake completes; rejects if it dies first. */
  readonly ready: Promise<void>
  /**
   * The underlying peer: `on`, `emit`, `call`, `notify`, `expose`... Without `remoteSync` and
   * `callSync`, which only a worker's channel supports: see WorkerHandle.
   */
  readonly peer: NonBlockingPeer<RemoteApi, Events>
  /** Resolves once it is gone, whoever ended it; never rejects. */
  readonly exited: Promise<ExitInfo>
  /** Closes the channel (pending calls reject), asks it to exit, kills it after `closeTimeout`. Idempotent. */
  close(): Promise<ExitInfo>
  /** Ends it now (a worker is terminated) and resolves once it has exited. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>
}

/** A child process's handle. Its peer has no `remoteSync` or `callSync`: an IPC channel cannot block. */
export interface ChildHandle<RemoteApi = unknown, Events extends PeerEvents = PeerEvents> extends Handle<RemoteApi, Events> {
  readonly process: ChildProcess
}

/** A worker's handle. Its channel can block: `remoteSync`, and the whole Peer with `callSync`. */
export interface WorkerHandle<RemoteApi = unknown, Events extends PeerEvents = PeerEvents> extends Handle<RemoteApi, Events> {
  readonly peer: Peer<RemoteApi, Events>
  readonly worker: Worker
  /** Blocking calls into the worker: `handle.remoteSync.a.b(x)` returns the value (see `Peer.callSync`). */
  readonly remoteSync: RemoteSyncOf<RemoteApi>
}

/**
 * Forks `modulePath` (which calls `connectParent`) and connects a peer to it.
 *
 * `modulePath` is a file URL (a URL object or a `file:` string) or a path, relative ones resolved
 * against `process.cwd()` (not `options.cwd`); {@link spawnWorker} follows the same rule. Every option
 * treerpc reads is checked before anything is forked: a wrong one throws RpcError
 * `RPC_INVALID_ARGUMENT` and starts nothing.
 *
 * Unless `stdio` or `silent` is set, the child's stderr is a pipe forwarded, chunk by chunk, to this
 * process's stderr, so that a child that dies before its handshake rejects `ready` (and held calls)
 * with the last lines of its stderr in the message. A missing module rejects `ready` with ENOENT
 * and the path.
 */
export function spawnChild<RemoteApi = unknown, Events extends PeerEvents = PeerEvents>(
  modulePath: string | URL,
  options?: SpawnChildOptions,
): ChildHandle<RemoteApi, Events> {
  const file = resolveModulePath(modulePath)
  const { expose, timeout, concurrency, maxQueue, maxPending, handshake, hooks, meta, trace, errorDetail, heartbeat, maxRefs, streamWindow, closeTimeout, connectTimeout = 30_000, args = [], ...forkOptions } =
    checkOptions<SpawnChildOptions>('options', options)
  const peerOptions = { expose, timeout, concurrency, maxQueue, maxPending, handshake, connectTimeout, hooks, meta, trace, errorDetail, heartbeat, maxRefs, streamWindow }
  resolvePeerOptions(peerOptions)
  optional(checkNonNegative, 'options.closeTimeout', closeTimeout, true)
  checkArgs(args)
  optional(checkOneOf, 'options.serialization', forkOptions.serialization, ['json', 'advanced'])
  optional(checkBoolean, 'options.silent', forkOptions.silent)

  // Unless the caller chose its stdio, the child's stderr comes through here: to forward it, and to keep its tail.
  const tail = forkOptions.stdio === undefined && forkOptions.silent === undefined ? new Tail() : undefined
  const child = fork(file, args, tail === undefined ? forkOptions : { ...forkOptions, stdio: ['inherit', 'inherit', 'pipe', 'ipc'] })
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    // fork itself failed (no process was started): there will be no 'exit'.
    child.once('error', () => {
      if (child.pid === undefined) resolve({ code: null, signal: null })
    })
  })
  const ipc = new IpcTransport(child as unknown as IpcChannel, { serialization: forkOptions.serialization ?? 'json' })
  const transport = new StartTransport(ipc, async (info) => {
    // The child's last words may still be on their way through the pipe when its exit is seen.
    await ended(child.stderr, STDERR_GRACE)
    return startFailure(info, 'the child process', file, tail?.lines())
  })
  const peer = createPeer<RemoteApi, Events>(transport, peerOptions)
  transport.watch(peer)
  if (tail !== undefined) forwardStderr(child, tail, () => peer.state === 'connecting')
  const kill = (signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    return exited
  }
  return { process: child, ...handle(peer, exited, kill, closeTimeout) }
}

/**
 * Starts `modulePath` (which calls `connectParent`) in a worker thread and connects a peer to it.
 * `modulePath` follows {@link spawnChild}'s rule (a file URL, or a path against `process.cwd()`), and
 * options are checked the same way, before the worker starts. A worker that dies before its
 * handshake rejects `ready` (and held calls) with its error's name and message, or ENOENT and the
 * path when the module is missing.
 */
export function spawnWorker<RemoteApi = unknown, Events extends PeerEvents = PeerEvents>(
  modulePath: string | URL,
  options?: SpawnWorkerOptions,
): WorkerHandle<RemoteApi, Events> {
  const file = resolveModulePath(modulePath)
  const { expose, timeout, concurrency, maxQueue, maxPending, handshake, hooks, meta, trace, errorDetail, heartbeat, maxRefs, streamWindow, closeTimeout, connectTimeout = 30_000, ...workerOptions } =
    checkOptions<SpawnWorkerOptions>('options', options)
  const peerOptions = { expose, timeout, concurrency, maxQueue, maxPending, handshake, connectTimeout, hooks, meta, trace, errorDetail, heartbeat, maxRefs, streamWindow }
  resolvePeerOptions(peerOptions)
  optional(checkNonNegative, 'options.closeTimeout', closeTimeout, true)

  const worker = new Worker(file, workerOptions)
  let alive = true
  const exited = new Promise<ExitInfo>((resolve) => {
    worker.once('exit', (code) => {
      alive = false
      resolve({ code, signal: null })
    })
  })
  // The worker's uncaught error arrives (as the close info's `error`) before its exit: nothing to wait for.
  const transport = new StartTransport(new WorkerTransport(worker), (info) => startFailure(info, 'the worker', file, undefined))
  const peer = createPeer<RemoteApi, Events>(transport, peerOptions)
  transport.watch(peer)
  const kill = (): Promise<ExitInfo> => {
    if (alive) void worker.terminate()
    return exited
  }
  return { worker, remoteSync: peer.remoteSync, ...handle(peer, exited, kill, closeTimeout) }
}

function handle<RemoteApi, Events extends PeerEvents>(
  peer: Peer<RemoteApi, Events>,
  exited: Promise<ExitInfo>,
  kill: (signal?: NodeJS.Signals) => Promise<ExitInfo>,
  closeTimeout = 5000,
): Handle<RemoteApi, Events> & { readonly peer: Peer<RemoteApi, Events> } {
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
        // Longer than a timer can hold (Infinity included): never kill.
        const timer = closeTimeout <= MAX_TIMEOUT ? setTimeout(() => void kill(), closeTimeout) : undefined
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

/**
 * The one rule of both spawn functions: a URL object or a `file:` string is a file URL; any other
 * string is a path, resolved against `process.cwd()` (as `fork` does, and unlike `new Worker`, which
 * wants `./`). Returns an absolute path, which `fork` and `new Worker` both take as it is.
 */
function resolveModulePath(modulePath: unknown): string {
  const expected = 'a path or a file: URL'
  const isUrl = modulePath instanceof URL || (typeof modulePath === 'string' && /^file:/i.test(modulePath))
  if (isUrl) {
    const url = modulePath as string | URL
    try {
      return fileURLToPath(url)
    } catch (error) {
      // Another scheme (data:, http:), a remote host, an encoded '/'.
      const got = typeof url === 'string' ? show(url) : `a URL ${JSON.stringify(clip(url.href, 60))}`
      throw new RpcError(`modulePath must be ${expected}, got ${got}`, ErrorCode.InvalidArgument, { cause: error })
    }
  }
  if (typeof modulePath !== 'string' || modulePath === '') throw invalidArgument('modulePath', expected, modulePath)
  return resolvePath(modulePath)
}

/** `options.args`: an array of strings, each named by its index when it is not one. */
function checkArgs(args: unknown): void {
  if (!Array.isArray(args)) throw invalidArgument('options.args', 'an array of strings', args)
  args.forEach((arg, i) => {
    if (typeof arg !== 'string') throw invalidArgument(`options.args[${i}]`, 'a string', arg)
  })
}

// ---- start-up failures --------------------------------------------------------------------------

/** How long a child's stderr may take to reach its end after the child exited, in ms. */
const STDERR_GRACE = 200
/** Bytes of a child's stderr kept for the error of a failed start. */
const TAIL_BYTES = 4096
/** Lines of that tail shown in the error message. */
const TAIL_LINES = 10

/**
 * The transport of a child or worker, which explains a channel that ends before the handshake (the
 * module is missing, throws at start-up, or exits without connecting): `explain` turns the close
 * info into one whose reason says why, and which the peer then puts in the ChannelClosedError of
 * `ready` and of every held call. Once the handshake is done, closes pass through untouched.
 */
class StartTransport implements Transport {
  readonly #inner: Transport
  readonly #explain: (info: CloseInfo) => CloseInfo | Promise<CloseInfo>
  #peerState: () => PeerState = () => 'connecting'

  constructor(inner: Transport, explain: (info: CloseInfo) => CloseInfo | Promise<CloseInfo>) {
    this.#inner = inner
    this.#explain = explain
  }

  /** The peer over this transport, whose state says whether the handshake was done. */
  watch(peer: { readonly state: PeerState }): void {
    this.#peerState = () => peer.state
  }

  get capabilities(): Transport['capabilities'] {
    return this.#inner.capabilities
  }

  // A getter: WorkerTransport makes its blocking channel on first use.
  get blocking(): Transport['blocking'] {
    return this.#inner.blocking
  }

  send(...args: Parameters<Transport['send']>): void {
    this.#inner.send(...args)
  }

  onMessage(listener: (message: unknown) => void): void {
    this.#inner.onMessage(listener)
  }

  onSendError(listener: (message: unknown, error: unknown) => void): void {
    this.#inner.onSendError?.(listener)
  }

  onClose(listener: (info: CloseInfo) => void): void {
    this.#inner.onClose((info) => {
      if (info.local === true || this.#peerState() !== 'connecting') return listener(info)
      // `explain` never rejects; while it runs the inner transport is closed, so sends are dropped.
      void Promise.resolve(this.#explain(info)).then(listener)
    })
  }

  close(): void {
    this.#inner.close()
  }
}

/**
 * The close info of a child or worker that ended before its handshake: the module's path, and the
 * reason: the error of a missing file (ENOENT), else the last lines of the child's stderr, else the
 * worker's uncaught error (or the channel's). Never throws.
 */
function startFailure(info: CloseInfo, who: string, file: string, stderr: string[] | undefined): CloseInfo {
  const missing = statError(file)
  if (missing !== undefined) return { ...info, reason: `${who} could not start: ${missing.message}`, error: missing }
  const ended = `${info.reason ?? `${who} ended`} before connecting (${file})`
  // The multi-line tail ends with a line break, so that the exit code or signal follows on a line of its own.
  if (stderr !== undefined && stderr.length > 0) return { ...info, reason: `${ended}; the end of its stderr:\n${stderr.map((line) => `    ${line}`).join('\n')}\n` }
  if (info.error !== undefined) return { ...info, reason: `${ended}: ${describeError(info.error)}` }
  // A clean exit with nothing to say is most often a module that never calls connectParent().
  return { ...info, reason: info.exitCode === 0 ? `${ended}: did it call connectParent()?` : ended }
}

/** Why `file` cannot be read (ENOENT...), or undefined when it can. */
function statError(file: string): Error | undefined {
  try {
    statSync(file)
    return undefined
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error))
  }
}

/** `SyntaxError: Unexpected token`: a start-up error's name and (clipped) message. Never throws. */
function describeError(error: unknown): string {
  try {
    if (error instanceof Error) return clip(`${error.name}: ${error.message}`)
    return clip(String(error))
  } catch {
    return 'an error that cannot be described'
  }
}

/** The last bytes a child wrote to its stderr. */
class Tail {
  #bytes = Buffer.alloc(0)

  push(chunk: Buffer): void {
    // Copies at most TAIL_BYTES: a large chunk is never retained.
    this.#bytes =
      chunk.length >= TAIL_BYTES
        ? Buffer.from(chunk.subarray(chunk.length - TAIL_BYTES))
        : Buffer.concat([this.#bytes.subarray(Math.max(0, this.#bytes.length + chunk.length - TAIL_BYTES)), chunk])
  }

  /** The last non-empty lines, without Node's own frames and version banner, which say nothing of the cause. */
  lines(): string[] {
    return this.#bytes
      .toString('utf8')
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '' && !/^\s*at .*\bnode:internal\//.test(line) && !/^Node\.js v\d/.test(line))
      .slice(-TAIL_LINES)
  }
}

/**
 * Forwards the child's piped stderr to this process's stderr as it comes, keeping its tail while
 * `recording()` (until the handshake). The pipe never keeps this process alive once the child has
 * exited: a grandchild that inherited it may hold it open much longer.
 */
function forwardStderr(child: ChildProcess, tail: Tail, recording: () => boolean): void {
  const stderr = child.stderr as (Readable & { unref?(): void }) | null
  if (stderr === null) return
  stderr.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk)
    if (recording()) tail.push(chunk)
  })
  // A read error on the pipe has nobody to tell; unheard, it would crash this process.
  stderr.on('error', () => {})
  child.once('exit', () => stderr.unref?.())
}

/** Resolves once `stream` has ended, or after `ms` (whichever comes first). */
function ended(stream: Readable | null, ms: number): Promise<void> {
  if (stream === null || stream.readableEnded || stream.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      stream.off('end', done)
      stream.off('close', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    timer.unref()
    stream.once('end', done)
    stream.once('close', done)
  })
}
