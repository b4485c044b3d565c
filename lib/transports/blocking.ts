/**
 * Blocking calls over worker_threads channels, as synckit does it: the caller posts the request on a
 * dedicated MessageChannel and sleeps in `Atomics.wait` on a shared counter; the other side posts the
 * reply on that channel and bumps the counter; the caller wakes and takes the reply synchronously
 * with `receiveMessageOnPort`. Requests and replies are ordinary JSON-RPC messages handled by the
 * engine like any other; only their route differs.
 */
import type { BlockingChannel } from '../transport.js'
import { MessageChannel, type MessagePort, receiveMessageOnPort } from 'node:worker_threads'

/** Set up by the first blocking call: the receiving side's end of the sync channel and the counter. */
export const SYNC_SETUP = 'rpc.sync'


/** Caller side: one sync channel per transport, made on first use. */
export class SyncCaller implements BlockingChannel {
  readonly #post: (message: unknown, transfer: MessagePort[]) => void
  #port: MessagePort | undefined
  #counter: Int32Array | undefined

  /** `post` sends on the transport's normal channel (used once, to hand over the sync channel). */
  constructor(post: (message: unknown, transfer: MessagePort[]) => void) {
    this.#post = post
  }

  request(request: { id: number }, timeout: number): { id: unknown } | undefined {
    if (this.#port === undefined) {
      const { port1, port2 } = new MessageChannel()
      this.#counter = new Int32Array(new SharedArrayBuffer(4))
      this.#port = port1
      port1.unref()
      this.#post({ jsonrpc: '2.0', method: SYNC_SETUP, params: { port: port2, counter: this.#counter } }, [port2])
    }
    const port = this.#port
    const counter = this.#counter!
    port.postMessage(request)
    const deadline = timeout > 0 ? Date.now() + timeout : Infinity
    for (;;) {
      const seen = Atomics.load(counter, 0)
      // Drain: replies of earlier calls that timed out here are discarded, never taken for this one.
      for (let entry = receiveMessageOnPort(port); entry !== undefined; entry = receiveMessageOnPort(port)) {
        const reply = entry.message as { id?: unknown }
        if (reply !== null && typeof reply === 'object' && reply.id === request.id) return reply as { id: unknown }
      }
      const remaining = deadline - Date.now()
      if (remaining <= 0) return undefined
      Atomics.wait(counter, 0, seen, remaining === Infinity ? undefined : remaining)
    }
  }

  close(): void {
    this.#port?.close()
    this.#port = undefined
  }
}

/** Receiving side: takes requests from sync channels and routes their replies back there. */
export class SyncResponder {
  readonly #deliver: (message: unknown) => void
  readonly #channels: { port: MessagePort; counter: Int32Array }[] = []
  /** Ids of requests that came through a sync channel, with the channel to answer on. */
  readonly #routes = new Map<unknown, { port: MessagePort; counter: Int32Array }>()

  constructor(deliver: (message: unknown) => void) {
    this.#deliver = deliver
  }

  /** True when `message` was a sync-channel setup (consumed here). */
  accept(message: unknown): boolean {
    const m = message as { method?: unknown; params?: { port?: unknown; counter?: unknown } }
    if (m === null || typeof m !== 'object' || m.method !== SYNC_SETUP) return false
    const port = m.params?.port as MessagePort | undefined
    const counter = m.params?.counter
    if (port === undefined || !(counter instanceof Int32Array)) return true
    const channel = { port, counter }
    this.#channels.push(channel)
    port.on('message', (request: { id?: unknown }) => {
      if (request !== null && typeof request === 'object' && request.id !== undefined) this.#routes.set(request.id, channel)
      this.#deliver(request)
    })
    // A sync channel alone must not keep this thread alive.
    port.unref()
    return true
  }

  /** Sends `message` back on its sync channel when it answers a blocking call; false otherwise. */
  reply(message: unknown): boolean {
    if (this.#routes.size === 0) return false
    const id = (message as { id?: unknown }).id
    const channel = this.#routes.get(id)
    if (channel === undefined || !('result' in (message as object) || 'error' in (message as object))) return false
    this.#routes.delete(id)
    channel.port.postMessage(message)
    Atomics.add(channel.counter, 0, 1)
    Atomics.notify(channel.counter, 0)
    return true
  }

  /**
   * What of `message` is left to send on the ordinary channel once replies to blocking calls are
   * taken out (a batch may hold some): the message, the rest of a batch, or undefined for nothing.
   */
  route(message: unknown): unknown {
    if (this.#routes.size === 0) return message
    if (!Array.isArray(message)) return this.reply(message) ? undefined : message
    const rest = message.filter((each) => !this.reply(each))
    return rest.length === 0 ? undefined : rest.length === 1 ? rest[0] : rest
  }

  close(): void {
    for (const { port } of this.#channels) port.close()
    this.#channels.length = 0
    this.#routes.clear()
  }
}
