import type { ChildProcess } from 'node:child_process'
import { BusyError, type CloseInfo } from '../errors.js'
import { Method } from '../protocol.js'
import { BaseTransport } from './base.js'

/** The part of a `ChildProcess` (parent side) and of `process` (child side) an IPC transport uses. */
export interface IpcChannel {
  send?(message: unknown, sendHandle?: undefined, options?: object, callback?: (error: Error | null) => void): boolean
  on(event: string, listener: (...args: any[]) => void): unknown
  off(event: string, listener: (...args: any[]) => void): unknown
  disconnect?(): void
  readonly connected?: boolean
}

export interface IpcTransportOptions {
  /** How the channel was forked: 'json' (default) or 'advanced' (structured clone). */
  serialization?: 'json' | 'advanced'
  /** Most messages queued here while Node's own IPC backlog is full; past it, sends fail with BusyError. Default 65536. */
  maxQueue?: number
}

/** The last write before a disconnect, sent only to learn when the pipe has drained. */
const FLUSH = { jsonrpc: '2.0', method: Method.Flush }

/**
 * JSON-RPC over Node's child-process IPC channel, on either side: the parent's `ChildProcess` or the
 * child's `process`.
 *
 * - Back-pressure: when `send()` returns false, later messages wait here (bounded) and go out, in
 *   order, as Node drains its backlog; none is dropped.
 * - Closing: on the parent side the close notification waits for the child's `exit` (so that the
 *   error carries its exit code or signal), or fires 200 ms after `disconnect` if the child stays alive.
 *   On the child side it fires on `disconnect` (the parent is gone or let go).
 * - `close()` flushes what is queued and then disconnects the channel; it never kills the process.
 * - Transfer lists are ignored: IPC copies everything (with 'advanced', by structured clone).
 */
export class IpcTransport extends BaseTransport {
  readonly capabilities: { structuredClone: boolean; transfer: false }
  readonly #channel: IpcChannel
  readonly #maxQueue: number
  readonly #isChild: boolean
  /** Messages held while Node's backlog is full; `#head` is the next to send. */
  #queue: unknown[] = []
  #head = 0
  /** Node's IPC backlog is over its threshold (`send()` returned false). */
  #blocked = false
  /** A write with a callback is on its way; its callback releases what is held. */
  #probing = false
  #written = 0
  #probeAt = 0
  #confirmedUpTo = 0
  #disconnectTimer: ReturnType<typeof setTimeout> | undefined
  #error: unknown

  constructor(channel: IpcChannel, options: IpcTransportOptions = {}) {
    super()
    if (typeof channel.send !== 'function') {
      throw new TypeError('IpcTransport needs a process or ChildProcess with an IPC channel (fork it, or spawn with stdio "ipc")')
    }
    this.#channel = channel
    this.#maxQueue = options.maxQueue ?? 65_536
    this.#isChild = channel === (globalThis as { process?: unknown }).process
    this.capabilities = { structuredClone: options.serialization === 'advanced', transfer: false }
    channel.on('message', this.#message)
    channel.on('disconnect', this.#disconnect)
    channel.on('error', this.#errorEvent)
    if (!this.#isChild) channel.on('exit', this.#exit)
    // Already gone (a parent that closed before this child connected): close as soon as a listener is set.
    if (channel.connected === false) queueMicrotask(() => this.#end({ reason: 'the IPC channel is already disconnected' }))
  }

  send(message: unknown): void {
    if (this.closed) return
    if (this.#blocked) {
      // The first message after a full backlog goes out at once, with a callback: when Node has
      // written it, everything before it is written too, and the messages held here can follow.
      if (!this.#probing) return this.#write(message, true)
      if (this.#queue.length - this.#head >= this.#maxQueue) {
        throw new BusyError(`IPC send queue is full (${this.#maxQueue} messages waiting for the channel to drain)`)
      }
      this.#queue.push(message)
      return
    }
    this.#write(message, false)
  }

  /**
   * Writes one message. Only a probe carries a callback: a callback per message costs Node a
   * nextTick each, and the order of the pipe makes one confirmation vouch for all earlier writes.
   */
  #write(message: unknown, probe: boolean): void {
    // Serialization errors (a BigInt in JSON, a function under 'advanced') throw here, synchronously.
    const ok = probe ? this.#channel.send!(message, undefined, {}, this.#confirmed) : this.#channel.send!(message)
    this.#written++
    if (probe) {
      this.#probing = true
      this.#probeAt = this.#written
    }
    if (!ok) this.#blocked = true
  }

  // Node calls this once the probe is handed to the OS (or failed: the channel closed).
  readonly #confirmed = (): void => {
    this.#probing = false
    this.#blocked = false
    this.#confirmedUpTo = this.#probeAt
    while (this.#head < this.#queue.length && !this.#probing) {
      const message = this.#queue[this.#head]
      this.#queue[this.#head++] = undefined
      try {
        this.#write(message, this.#blocked)
      } catch (error) {
        // Held messages are serialized only now: one that cannot be fails its call here.
        this.sendFailed(message, error)
      }
    }
    if (this.#head === this.#queue.length) {
      this.#queue = []
      this.#head = 0
    }
    if (this.closed) this.#disconnectWhenFlushed()
  }

  /**
   * Disconnects once everything has been written: Node's disconnect() discards writes still in its
   * backlog, so a closing side would lose its last replies. When writes are unconfirmed, a last probe
   * (`rpc.flush`, ignored by the other side) is sent and the disconnect waits for it.
   */
  #disconnectWhenFlushed(): void {
    const channel = this.#channel
    if (!channel.connected || typeof channel.disconnect !== 'function') return
    if (this.#probing || this.#head < this.#queue.length) return
    if (this.#written > this.#confirmedUpTo) {
      try {
        return this.#write(FLUSH, true)
      } catch {
        // The channel is going away under us: disconnect below.
      }
    }
    try {
      channel.disconnect()
    } catch {
      // Already disconnected.
    }
  }

  readonly #message = (message: unknown): void => {
    this.receive(message)
  }

  readonly #errorEvent = (error: unknown): void => {
    this.#error = error
  }

  readonly #disconnect = (): void => {
    if (this.#isChild) return this.#end({ reason: 'the parent process disconnected' })
    // The child may be exiting: give its exit a moment to arrive so the error can carry code and signal.
    this.#disconnectTimer ??= setTimeout(() => this.#end({ reason: 'the child process disconnected' }), 200)
    this.#disconnectTimer.unref?.()
  }

  readonly #exit = (code: number | null, signal: string | null): void => {
    this.#end({ reason: 'the child process exited', exitCode: code, signal })
  }

  /** Ends with the channel's last 'error', if any, as the cause. */
  #end(info: CloseInfo): void {
    this.end(this.#error !== undefined && info.error === undefined ? { ...info, error: this.#error } : info)
  }

  protected release(): void {
    if (this.#disconnectTimer !== undefined) clearTimeout(this.#disconnectTimer)
    const channel = this.#channel
    channel.off('message', this.#message)
    channel.off('disconnect', this.#disconnect)
    channel.off('exit', this.#exit)
    // The 'error' listener stays, swallowing late errors (EPIPE after exit): without one they would crash.
    this.#disconnectWhenFlushed()
  }
}

/** The parent side of a forked child's IPC channel. */
export function childProcessTransport(child: ChildProcess, options?: IpcTransportOptions): IpcTransport {
  return new IpcTransport(child as unknown as IpcChannel, options)
}

/**
 * The child side: this process's channel to the parent that forked it. A child cannot tell how its
 * channel serializes (Node removes NODE_CHANNEL_SERIALIZATION_MODE at start-up), so it assumes JSON
 * unless told; a treerpc parent says 'advanced' in its handshake.
 */
export function parentProcessTransport(options: IpcTransportOptions = {}): IpcTransport {
  return new IpcTransport(process as unknown as IpcChannel, options)
}
