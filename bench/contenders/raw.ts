/**
 * The raw limits, written here: a Map of pending ids over `postMessage` (worker threads) and over
 * `process.send` (child processes, json and advanced serialization); the same over N workers for the
 * pool workloads; and a bare blocking call (MessageChannel + SharedArrayBuffer + Atomics.wait).
 * No timeouts, no errors, no validation: the least any RPC over these channels must do.
 */
import type { ChildProcess } from 'node:child_process'
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads'
import { forkChild, type Serialization, stopChild, workerUrl } from '../adapters.js'
import type { Contender } from './types.js'

interface Reply {
  id: number
  r?: unknown
  result?: unknown
}

/** Pending calls by id, shared by the raw contenders. */
class Pending {
  readonly #map = new Map<number, (value: unknown) => void>()
  #next = 1

  open(send: (id: number) => void): Promise<unknown> {
    const id = this.#next++
    return new Promise((resolve) => {
      this.#map.set(id, resolve)
      send(id)
    })
  }

  readonly settle = (reply: Reply): void => {
    const resolve = this.#map.get(reply.id)
    if (resolve === undefined) return
    this.#map.delete(reply.id)
    resolve(reply.r ?? reply.result)
  }
}

/**
 * `envelope`: the same raw echo, but each request is `{ jsonrpc: '2.0', id, method, params: [value] }`
 * and each reply `{ jsonrpc: '2.0', id, result }`: not a limit, a yardstick of what the JSON-RPC message
 * shape alone costs on the channel (shown in the tables, never a denominator).
 */
export class RawWorker implements Contender {
  readonly name: string
  readonly raw: boolean
  readonly yardstick: boolean
  readonly #envelope: boolean
  readonly #pending = new Pending()
  #worker: Worker | undefined

  constructor(options: { envelope?: boolean } = {}) {
    this.#envelope = options.envelope === true
    this.raw = !this.#envelope
    this.yardstick = this.#envelope
    this.name = this.#envelope ? 'raw postMessage, JSON-RPC envelope' : 'raw postMessage'
  }

  async start(): Promise<void> {
    this.#worker = new Worker(workerUrl('raw'))
    this.#worker.on('message', this.#pending.settle)
    await this.call(0)
  }

  call(value: unknown): Promise<unknown> {
    if (this.#envelope) return this.#pending.open((id) => this.#worker!.postMessage({ jsonrpc: '2.0', id, method: 'echo', params: [value] }))
    return this.#pending.open((id) => this.#worker!.postMessage({ id, m: 'echo', a: value }))
  }

  echoBinary(bytes: Uint8Array): Promise<Uint8Array> {
    return this.#pending.open((id) => this.#worker!.postMessage({ id, m: 'bin', a: bytes }, [bytes.buffer as ArrayBuffer])) as Promise<Uint8Array>
  }

  notify(value: unknown): void {
    this.#worker!.postMessage({ m: 'sink', a: value })
  }

  count(): Promise<number> {
    return this.#pending.open((id) => this.#worker!.postMessage({ id, m: 'count' })) as Promise<number>
  }

  async stop(): Promise<void> {
    await this.#worker?.terminate()
  }
}

export class RawIpc implements Contender {
  readonly name: string
  readonly raw: boolean
  readonly yardstick: boolean
  readonly #serialization: Serialization
  readonly #envelope: boolean
  readonly #pending = new Pending()
  #child: ChildProcess | undefined

  /** `envelope`: JSON-RPC-shaped messages, as for {@link RawWorker}. */
  constructor(serialization: Serialization, options: { envelope?: boolean } = {}) {
    this.#serialization = serialization
    this.#envelope = options.envelope === true
    this.raw = !this.#envelope
    this.yardstick = this.#envelope
    this.name = `raw process.send (${serialization})${this.#envelope ? ', JSON-RPC envelope' : ''}`
  }

  async start(): Promise<void> {
    this.#child = forkChild(workerUrl('raw'), this.#serialization)
    this.#child.on('message', this.#pending.settle)
    await this.call(0)
  }

  call(value: unknown): Promise<unknown> {
    if (this.#envelope) return this.#pending.open((id) => this.#child!.send({ jsonrpc: '2.0', id, method: 'echo', params: [value] }))
    return this.#pending.open((id) => this.#child!.send({ id, m: 'echo', a: value }))
  }

  notify(value: unknown): void {
    this.#child!.send({ m: 'sink', a: value })
  }

  count(): Promise<number> {
    return this.#pending.open((id) => this.#child!.send({ id, m: 'count' })) as Promise<number>
  }

  async stop(): Promise<void> {
    await stopChild(this.#child)
  }
}

/** N raw workers; each call goes to the one with the fewest outstanding calls. */
export class RawPool implements Contender {
  readonly name: string
  readonly raw = true
  readonly #size: number
  readonly #pending = new Pending()
  #workers: Worker[] = []
  #outstanding: number[] = []

  constructor(size: number) {
    this.#size = size
    this.name = `raw postMessage ×${size}`
  }

  async start(): Promise<void> {
    this.#workers = Array.from({ length: this.#size }, () => new Worker(workerUrl('raw')))
    this.#outstanding = this.#workers.map(() => 0)
    for (const worker of this.#workers) worker.on('message', this.#pending.settle)
    await Promise.all(Array.from({ length: this.#size * 2 }, () => this.call(0)))
  }

  call(value: unknown): Promise<unknown> {
    let best = 0
    for (let i = 1; i < this.#workers.length; i++) if (this.#outstanding[i]! < this.#outstanding[best]!) best = i
    this.#outstanding[best]!++
    const worker = this.#workers[best]!
    return this.#pending.open((id) => worker.postMessage({ id, m: 'echo', a: value })).then((result) => {
      this.#outstanding[best]!--
      return result
    })
  }

  async stop(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.terminate()))
  }
}

/** The bare blocking call: post on a dedicated port, sleep in Atomics.wait, take the reply with receiveMessageOnPort. */
export class RawSync implements Contender {
  readonly name = 'raw Atomics.wait'
  readonly raw = true
  #worker: Worker | undefined
  #port: MessagePort | undefined
  #counter = new Int32Array(new SharedArrayBuffer(4))
  #next = 1

  async start(): Promise<void> {
    this.#worker = new Worker(workerUrl('raw'))
    const { port1, port2 } = new MessageChannel()
    this.#port = port1
    port1.unref()
    this.#worker.postMessage({ m: 'sync', port: port2, counter: this.#counter }, [port2])
    // The worker may still be starting: the first blocking call waits for it.
    this.callSync(0)
  }

  call(value: unknown): Promise<unknown> {
    return Promise.resolve(this.callSync(value))
  }

  callSync(value: unknown): unknown {
    const id = this.#next++
    const port = this.#port!
    port.postMessage({ id, a: value })
    for (;;) {
      const seen = Atomics.load(this.#counter, 0)
      const entry = receiveMessageOnPort(port)
      if (entry !== undefined && (entry.message as Reply).id === id) return (entry.message as Reply).r
      if (entry === undefined && Atomics.wait(this.#counter, 0, seen, 10_000) === 'timed-out') throw new Error('raw blocking call timed out')
    }
  }

  async stop(): Promise<void> {
    this.#port?.close()
    await this.#worker?.terminate()
  }
}
